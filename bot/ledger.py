"""The ledger: one durable row per agent run (who asked, which agent and model, tokens, cost)."""

from __future__ import annotations

import calendar
import dataclasses
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

# Run statuses beyond the agent's own outcome (adapters.base.RunStatus values).
QUEUED, RUNNING, REFUSED = "queued", "running", "refused"


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    job_id: int | None
    repo: str
    number: int
    trigger: str
    verb: str
    requester: str
    status: str
    created_at: float
    is_pull_request: bool = False
    agent: str = ""
    adapter: str = ""
    model: str = ""
    harness_version: str = ""
    branch: str = ""
    pr_number: int | None = None
    pr_url: str = ""
    commit_sha: str = ""
    # The remote branch head the run's push expects to replace ("" for a new branch).
    lease_sha: str = ""
    # The branch head a fresh retry replaced; it stays reachable as `render.previous_tag`.
    replaced_sha: str = ""
    comment_id: int | None = None
    check_run_id: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    turns: int = 0
    cost_usd: float | None = None
    cost_source: str = "unknown"
    price_date: str | None = None
    summary: str = ""
    error: str = ""
    session_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float | None = None
    network: str = ""  # the agent's sandbox network: "none" or "host"

    def with_(self, **changes: Any) -> RunRecord:
        return dataclasses.replace(self, **changes)


_FIELDS = [f.name for f in dataclasses.fields(RunRecord)]


class Ledger:
    """Reads and writes `runs` rows; the connection is owned by the caller."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def save(self, record: RunRecord, *, only_its_comment: bool = False) -> None:
        """Insert or update the row. `only_its_comment`: a row that exists already (its run has
        started) takes just the status comment's id from `record`, if it has none."""
        values = dataclasses.astuple(record)
        placeholders = ", ".join("?" for _ in _FIELDS)
        # A status comment, once made, is never forgotten by a writer that has not seen it yet.
        updates = ", ".join(
            f"{name} = COALESCE(excluded.{name}, runs.{name})" if name == "comment_id"
            else f"{name} = excluded.{name}"
            for name in _FIELDS if name != "id"
        )  # fmt: skip
        if only_its_comment:
            updates = "comment_id = COALESCE(runs.comment_id, excluded.comment_id)"
        with self._conn:
            self._conn.execute(
                f"INSERT INTO runs ({', '.join(_FIELDS)}) VALUES ({placeholders}) "  # noqa: S608
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                values,
            )

    def _rows(self, where: str, params: tuple[Any, ...]) -> list[RunRecord]:
        cur = self._conn.execute(
            f"SELECT {', '.join(_FIELDS)} FROM runs {where}",  # noqa: S608
            params,
        )
        return [self._record(row) for row in cur.fetchall()]

    @staticmethod
    def _record(row: tuple[Any, ...]) -> RunRecord:
        data = dict(zip(_FIELDS, row, strict=True))
        data["is_pull_request"] = bool(data["is_pull_request"])
        return RunRecord(**data)

    def get(self, run_id: str) -> RunRecord | None:
        rows = self._rows("WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def for_target(self, repo: str, number: int) -> list[RunRecord]:
        return self._rows("WHERE repo = ? AND number = ? ORDER BY created_at", (repo, number))

    def for_pull(self, repo: str, pr_number: int) -> list[RunRecord]:
        return self._rows(
            "WHERE repo = ? AND (pr_number = ? OR number = ?) ORDER BY created_at",
            (repo, pr_number, pr_number),
        )

    def recent(self, limit: int = 20, repo: str | None = None) -> list[RunRecord]:
        if repo is None:
            return self._rows("ORDER BY created_at DESC LIMIT ?", (limit,))
        return self._rows("WHERE repo = ? ORDER BY created_at DESC LIMIT ?", (repo, limit))

    def spend(
        self,
        *,
        since: float,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> float:
        """Dollars spent since `since`, by repo, by org/owner or by requester."""
        clauses = ["created_at >= ?", "cost_usd IS NOT NULL"]
        params: list[object] = [since]
        if repo is not None:
            clauses.append("repo = ?")
            params.append(repo)
        if owner is not None:
            clauses.append("repo LIKE ?")
            params.append(f"{owner}/%")
        if requester is not None:
            clauses.append("requester = ?")
            params.append(requester)
        row = self._conn.execute(
            f"SELECT COALESCE(SUM(cost_usd), 0) FROM runs WHERE {' AND '.join(clauses)}",  # noqa: S608
            params,
        ).fetchone()
        return float(row[0])


def month_start(now: float | None = None) -> float:
    """Epoch seconds of the first instant of the current UTC month (budgets are monthly)."""
    t = time.gmtime(now if now is not None else time.time())
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))
