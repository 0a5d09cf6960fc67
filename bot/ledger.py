"""The ledger for synchronous callers: one durable row per agent run, on a connection the caller
owns. Async code uses a `bot.store.base.Store` instead; this shim goes once no caller is left."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bot.store import sqlite as sql
from bot.store.base import QUEUED, REFUSED, RUNNING, RunRecord
from bot.store.spend import month_bounds

if TYPE_CHECKING:
    import sqlite3

__all__ = ["QUEUED", "REFUSED", "RUNNING", "Ledger", "RunRecord", "month_start"]


class Ledger:
    """Reads and writes `runs` rows with the SQL of `bot.store.sqlite`, on the caller's thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def save(self, record: RunRecord, *, only_its_comment: bool = False) -> None:
        """Insert or update the row. `only_its_comment`: a row that exists already (its run has
        started) takes just the status comment's id from `record`, if it has none."""
        sql.save_run(self._conn, record, only_its_comment=only_its_comment)

    def get(self, run_id: str) -> RunRecord | None:
        return sql.get_run(self._conn, run_id)

    def for_target(self, repo: str, number: int) -> list[RunRecord]:
        return sql.runs_for_target(self._conn, repo, number)

    def for_pull(self, repo: str, pr_number: int) -> list[RunRecord]:
        return sql.runs_for_pull(self._conn, repo, pr_number)

    def recent(self, limit: int = 20, repo: str | None = None) -> list[RunRecord]:
        return sql.list_runs(self._conn, repo=repo, since=None, until=None, limit=limit)

    def spend(
        self,
        *,
        since: float,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> float:
        """Dollars spent since `since`, by repo, by org/owner or by requester."""
        return sql.spend(
            self._conn, since=since, until=None, repo=repo, owner=owner, requester=requester
        )


def month_start(now: float | None = None) -> float:
    """Epoch seconds of the first instant of the current UTC month (budgets are monthly)."""
    return month_bounds(time.time() if now is None else now)[0]
