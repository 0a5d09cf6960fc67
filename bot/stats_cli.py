"""`baton stats [--repo R] [--json]`: the agent scoreboard from the terminal.

It reads an existing database only: where there is none, it says so instead of creating one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any, TextIO

from bot.database import open_store
from bot.scoreboard.read import load_run_outcomes, load_scoreboard
from bot.scoreboard.render import as_json, text

if TYPE_CHECKING:
    from config.settings import Settings

DAY_S = 86400.0


def print_stats(
    settings: Settings,
    *,
    repo: str | None,
    out: TextIO,
    as_json_: bool = False,
    window_days: float | None = None,
    now: float | None = None,
) -> int:
    """The scoreboard per agent and per agent x label x repository; `--json` adds each run's
    own figures (`runs`), the evidence routing by outcome reads."""
    window_s = (window_days if window_days is not None else settings.stats_window_days) * DAY_S
    when = time.time() if now is None else now

    async def read() -> tuple[Any, list[Any]]:
        # SQLite or PostgreSQL, whichever the settings name; a missing SQLite file is not made.
        store = await open_store(settings.database_url, create=False)
        try:
            board = await load_scoreboard(store, now=when, repo=repo, window_s=window_s)
            return board, await load_run_outcomes(store, repo=repo)
        finally:
            await store.close()

    board, outcomes = asyncio.run(read())
    if as_json_:
        data = {**as_json(board), "runs": [dataclasses.asdict(o) for o in outcomes]}
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    out.write(text(board))
    return 0
