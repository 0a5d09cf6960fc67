"""Load the scoreboard from the store: the ledger's runs and the facts of their pull requests.

The one function the dashboard, `/agent stats` and `baton stats` call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.scoreboard.compute import DEFAULT_WINDOW_S, Scoreboard, scoreboard
from bot.scoreboard.facts import RunOutcome, fold, openers, run_outcome, verdicts
from bot.scoreboard.render import markdown

if TYPE_CHECKING:
    from collections.abc import Collection

    from bot.store.base import RunRecord, Store
    from bot.store.pulls import PullEvent


async def _inputs(
    store: Store, *, repo: str | None, repos: Collection[str] | None
) -> tuple[list[RunRecord], list[PullEvent]]:
    runs = await store.list_runs(repo=repo)
    events = await store.pull_events(repo=repo)
    if repos is not None:
        wanted = {r.lower() for r in repos}
        runs = [r for r in runs if r.repo.lower() in wanted]
        events = [e for e in events if e.repo.lower() in wanted]
    return runs, events


async def load_scoreboard(
    store: Store,
    *,
    now: float,
    repo: str | None = None,
    repos: Collection[str] | None = None,
    window_s: float = DEFAULT_WINDOW_S,
) -> Scoreboard:
    """The scoreboard of one repository, of `repos` (the ones a viewer may see), or of all."""
    runs, events = await _inputs(store, repo=repo, repos=repos)
    return scoreboard(runs, fold(events), now=now, window_s=window_s)


async def load_run_outcomes(
    store: Store, *, repo: str | None = None, repos: Collection[str] | None = None
) -> list[RunOutcome]:
    """Each run's own figures (the evidence routing by outcome reads), newest run first."""
    runs, events = await _inputs(store, repo=repo, repos=repos)
    pulls, checks, opened = fold(events), verdicts(events), openers(runs)
    return [run_outcome(r, pulls, checks, opened) for r in runs if r.agent]


async def stats_reply(store: Store, *, repo: str, now: float, window_s: float) -> str:
    """`/agent stats`: the repository's scoreboard as a comment."""
    board = await load_scoreboard(store, now=now, repo=repo, window_s=window_s)
    return markdown(board, title=f"Agent scoreboard of {repo}")
