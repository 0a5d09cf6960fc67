"""Reading ledger rows on SQLite: the query helpers `bot.store.sqlite` and its budget SQL share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.store.base import RUN_FIELDS, RunRecord

if TYPE_CHECKING:
    import sqlite3

_SELECT_RUNS = f"SELECT {', '.join(RUN_FIELDS)} FROM runs"  # noqa: S608 - constant column names


def _record(row: tuple[Any, ...]) -> RunRecord:
    data = dict(zip(RUN_FIELDS, row, strict=True))
    data["is_pull_request"] = bool(data["is_pull_request"])
    return RunRecord(**data)


def select_runs(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[RunRecord]:
    """`where` is a constant clause of the caller's; values go in `params` only."""
    cursor = conn.execute(f"{_SELECT_RUNS} {where}", params)
    return [_record(row) for row in cursor.fetchall()]


def filters(
    *,
    since: float | None,
    until: float | None,
    repo: str | None,
    owner: str | None = None,
    requester: str | None = None,
) -> tuple[list[str], list[object]]:
    named = [
        ("created_at >= ?", since),
        ("created_at < ?", until),
        ("repo = ?", repo),
        ("repo LIKE ?", None if owner is None else f"{owner}/%"),
        ("requester = ?", requester),
    ]
    given = [(clause, value) for clause, value in named if value is not None]
    return [clause for clause, _ in given], [value for _, value in given]
