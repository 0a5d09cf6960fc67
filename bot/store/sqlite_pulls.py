"""The SQL of the pull request facts (`pull_events`), as functions of a SQLite connection."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bot.store.pulls import PullEvent, PullEventKind

if TYPE_CHECKING:
    import sqlite3


def add_pull_event(conn: sqlite3.Connection, event: PullEvent, data: str, now: float) -> bool:
    cursor = conn.execute(
        "INSERT INTO pull_events (repo, number, key, kind, at, received_at, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, key) DO NOTHING",
        (event.repo, event.number, event.key, event.kind.value, event.at, now, data),
    )
    return cursor.rowcount == 1


def pull_events(
    conn: sqlite3.Connection, *, repo: str | None, number: int | None, since: float | None
) -> list[PullEvent]:
    named = [("repo = ?", repo), ("number = ?", number), ("at >= ?", since)]
    given = [(clause, value) for clause, value in named if value is not None]
    where = f"WHERE {' AND '.join(c for c, _ in given)} " if given else ""
    params: tuple[Any, ...] = tuple(v for _, v in given)
    rows = conn.execute(
        "SELECT repo, number, key, kind, at, data FROM pull_events "  # noqa: S608 - constant clauses
        f"{where}ORDER BY at, received_at, key",
        params,
    ).fetchall()
    return [
        PullEvent(
            repo=repo_,
            number=int(number_),
            key=key,
            kind=PullEventKind(kind),
            at=float(at),
            data=json.loads(data),
        )
        for repo_, number_, key, kind, at, data in rows
    ]
