"""The SQLite Store: every call runs on the store's own thread, on a connection only it uses.

The job queue writes the same file from the event loop on its own connection; WAL lets readers
pass the writer, `busy_timeout` makes a writer wait for the other's short write, and writes
that read first take the write lock up front (`transaction`), so neither sees a stale snapshot.
The SQL is plain functions of a connection, which the synchronous `bot.ledger.Ledger` shares.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Self, TypeVar

from bot.store import sqlite_budget as budget_sql
from bot.store import sqlite_views as views
from bot.store.base import (
    RUN_FIELDS,
    BudgetCap,
    CostBreakdown,
    Pruned,
    RemovedRepo,
    Reservation,
    RunEvent,
    RunRecord,
)
from bot.store.db import (
    StoreError,
    applied_versions,
    open_database,
    open_existing_database,
    transaction,
)
from bot.store.migrations import MIGRATIONS
from bot.store.shared_sql import LOST_BY_INSTALLATION
from bot.store.sqlite_pulls import add_pull_event, pull_events
from bot.store.sqlite_rows import filters, select_runs

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType

    from bot.store.pulls import PullEvent
    from bot.store.views import MetricValue, RunPage, RunQuery, RunTally, SpendRow

P = ParamSpec("P")
T = TypeVar("T")

_COLUMNS = ", ".join(RUN_FIELDS)


def _take_new(name: str) -> str:
    # A status comment, once made, is never forgotten by a writer that has not seen it yet.
    if name == "comment_id":
        return "comment_id = COALESCE(excluded.comment_id, runs.comment_id)"
    return f"{name} = excluded.{name}"


_UPDATE_ALL = ", ".join(_take_new(name) for name in RUN_FIELDS if name != "id")
_UPDATE_COMMENT = "comment_id = COALESCE(runs.comment_id, excluded.comment_id)"
_UPSERT = (
    f"INSERT INTO runs ({_COLUMNS}) VALUES ({', '.join('?' for _ in RUN_FIELDS)}) "  # noqa: S608
    "ON CONFLICT (id) DO UPDATE SET "
)


# The SQL, as functions of a connection. Run them on the thread that owns the connection.


def save_run(conn: sqlite3.Connection, record: RunRecord, *, only_its_comment: bool) -> None:
    updates = _UPDATE_COMMENT if only_its_comment else _UPDATE_ALL
    values = tuple(getattr(record, name) for name in RUN_FIELDS)
    conn.execute(_UPSERT + updates, values)


def get_run(conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
    rows = select_runs(conn, "WHERE id = ?", (run_id,))
    return rows[0] if rows else None


def runs_for_target(conn: sqlite3.Connection, repo: str, number: int) -> list[RunRecord]:
    return select_runs(
        conn, "WHERE repo = ? AND number = ? ORDER BY created_at, rowid", (repo, number)
    )


def runs_for_pull(conn: sqlite3.Connection, repo: str, pr_number: int) -> list[RunRecord]:
    return select_runs(
        conn,
        "WHERE repo = ? AND (pr_number = ? OR number = ?) ORDER BY created_at, rowid",
        (repo, pr_number, pr_number),
    )


def list_runs(
    conn: sqlite3.Connection,
    *,
    repo: str | None,
    since: float | None,
    until: float | None,
    limit: int | None,
) -> list[RunRecord]:
    clauses, params = filters(since=since, until=until, repo=repo)
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    # LIMIT -1: no limit.
    order = "ORDER BY created_at DESC, rowid DESC LIMIT ?"
    return select_runs(conn, where + order, (*params, -1 if limit is None else limit))


def spend(
    conn: sqlite3.Connection,
    *,
    since: float,
    until: float | None,
    repo: str | None,
    owner: str | None,
    requester: str | None,
) -> float:
    clauses, params = filters(since=since, until=until, repo=repo, owner=owner, requester=requester)
    where = " AND ".join([*clauses, "cost_usd IS NOT NULL"])
    query = f"SELECT COALESCE(SUM(cost_usd), 0) FROM runs WHERE {where}"  # noqa: S608
    return float(conn.execute(query, params).fetchone()[0])


def append_event(
    conn: sqlite3.Connection, run_id: str, kind: str, data: str, at: float
) -> RunEvent:
    with transaction(conn):
        (seq,) = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM run_events WHERE run_id = ?", (run_id,)
        ).fetchone()
        conn.execute(
            "INSERT INTO run_events (run_id, seq, time, kind, data) VALUES (?, ?, ?, ?, ?)",
            (run_id, seq, at, kind, data),
        )
    return RunEvent(run_id=run_id, seq=int(seq), time=at, kind=kind, data=json.loads(data))


def events(conn: sqlite3.Connection, run_id: str, after_seq: int) -> list[RunEvent]:
    rows = conn.execute(
        "SELECT seq, time, kind, data FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq",
        (run_id, after_seq),
    ).fetchall()
    return [
        RunEvent(run_id=run_id, seq=int(seq), time=float(at), kind=kind, data=json.loads(data))
        for seq, at, kind, data in rows
    ]


def claim(conn: sqlite3.Connection, key: str, owner: str, now: float, ttl_s: float) -> bool:
    with transaction(conn):
        # Expired claims go first (they are free to take), so the table holds live ones only.
        conn.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
        cursor = conn.execute(
            "INSERT INTO claims (key, owner, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at "
            "WHERE claims.owner = excluded.owner",
            (key, owner, now + ttl_s),
        )
        return cursor.rowcount == 1


def release(conn: sqlite3.Connection, key: str, owner: str) -> bool:
    cursor = conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))
    return cursor.rowcount == 1


def prune(
    conn: sqlite3.Connection, events_before: float, removed_before: float, now: float
) -> Pruned:
    with transaction(conn):
        events = conn.execute("DELETE FROM run_events WHERE time < ?", (events_before,))
        removed = conn.execute("DELETE FROM removed_repos WHERE removed_at < ?", (removed_before,))
        claims = conn.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
    return Pruned(events=events.rowcount, removed_repos=removed.rowcount, claims=claims.rowcount)


def record_removed(
    conn: sqlite3.Connection, repos: Sequence[str], installation_id: int, reason: str, at: float
) -> None:
    with transaction(conn):
        conn.executemany(
            "INSERT INTO removed_repos (repo, installation_id, reason, removed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (repo, installation_id) DO UPDATE SET "
            "reason = excluded.reason, removed_at = excluded.removed_at",
            [(repo, installation_id, reason, at) for repo in repos],
        )


def removed_repos(conn: sqlite3.Connection, since: float) -> list[RemovedRepo]:
    rows = conn.execute(
        "SELECT repo, installation_id, reason, removed_at FROM removed_repos "
        "WHERE removed_at >= ? ORDER BY removed_at, repo",
        (since,),
    ).fetchall()
    return [RemovedRepo(repo, int(i), reason, float(at)) for repo, i, reason, at in rows]


def purge_installation(conn: sqlite3.Connection, installation_id: int) -> int:
    runs = f"SELECT id FROM runs WHERE {LOST_BY_INSTALLATION}"  # noqa: S608 - constant
    with transaction(conn):
        conn.execute(f"DELETE FROM run_events WHERE run_id IN ({runs})", (installation_id,))  # noqa: S608
        deleted = conn.execute(
            f"DELETE FROM runs WHERE {LOST_BY_INSTALLATION}",  # noqa: S608 - constant
            (installation_id,),
        )
    return deleted.rowcount


class SQLiteStore:
    """A `Store` on one SQLite file. Open it with `await SQLiteStore.open(url)`, close it with
    `await store.close()`. Calls queue up on one thread, in the order they were made; a call
    whose caller is cancelled still completes (a write is never half done)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        executor: ThreadPoolExecutor,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = conn
        self._executor = executor
        self._clock = clock
        self._closed = False

    @classmethod
    async def open(
        cls, url: str, *, create: bool = True, clock: Callable[[], float] = time.time
    ) -> SQLiteStore:
        """Open the database named by `url` and apply pending migrations. `create=False`: a
        missing file is a `StoreError` (for commands that only read), never a new database."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baton-store")
        opener = open_database if create else open_existing_database
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, opener, url)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor, clock=clock)

    async def _run(
        self,
        op: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        call = functools.partial(op, self._conn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self._run(get_run, run_id)

    async def save_run(self, record: RunRecord, *, only_its_comment: bool = False) -> None:
        await self._run(save_run, record, only_its_comment=only_its_comment)

    async def runs_for_target(self, repo: str, number: int) -> list[RunRecord]:
        return await self._run(runs_for_target, repo, number)

    async def runs_for_pull(self, repo: str, pr_number: int) -> list[RunRecord]:
        return await self._run(runs_for_pull, repo, pr_number)

    async def recent_runs(self, limit: int = 20, repo: str | None = None) -> list[RunRecord]:
        return await self.list_runs(repo=repo, limit=limit)

    async def list_runs(
        self,
        *,
        repo: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        return await self._run(list_runs, repo=repo, since=since, until=until, limit=limit)

    async def spend(
        self,
        *,
        since: float,
        until: float | None = None,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> float:
        return await self._run(
            spend, since=since, until=until, repo=repo, owner=owner, requester=requester
        )

    async def cost_breakdown(
        self,
        *,
        since: float,
        until: float | None = None,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> CostBreakdown:
        return await self._run(
            budget_sql.cost_breakdown,
            since=since, until=until, repo=repo, owner=owner, requester=requester,
        )  # fmt: skip

    async def history(
        self, *, repo: str, agent: str, label: str, verb: str, limit: int
    ) -> list[RunRecord]:
        return await self._run(
            budget_sql.history, repo=repo, agent=agent, label=label, verb=verb, limit=limit
        )

    async def reserve(self, reservation: Reservation) -> None:
        await self._run(budget_sql.reserve, reservation)

    async def release_reservation(self, run_id: str) -> bool:
        return await self._run(budget_sql.release_reservation, run_id)

    async def held(
        self,
        *,
        now: float,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> float:
        return await self._run(
            budget_sql.held, now=now, repo=repo, owner=owner, requester=requester
        )

    async def expire_reservations(self, *, now: float) -> int:
        return await self._run(budget_sql.expire_reservations, now=now)

    async def record_cap(self, cap: BudgetCap) -> None:
        await self._run(budget_sql.record_cap, cap)

    async def budget_caps(self) -> list[BudgetCap]:
        return await self._run(budget_sql.budget_caps)

    async def append_event(
        self, run_id: str, kind: str, data: Mapping[str, Any] | None = None
    ) -> RunEvent:
        # Encoded here, so data that is not JSON fails in the caller, before anything is written;
        # no NaN or Infinity, which a PostgreSQL store's JSON would refuse.
        encoded = json.dumps(dict(data or {}), separators=(",", ":"), allow_nan=False)
        return await self._run(append_event, run_id, kind, encoded, self._clock())

    async def events(self, run_id: str, *, after_seq: int = 0) -> list[RunEvent]:
        return await self._run(events, run_id, after_seq)

    async def add_pull_event(self, event: PullEvent) -> bool:
        encoded = json.dumps(event.data, separators=(",", ":"), allow_nan=False)
        return await self._run(add_pull_event, event, encoded, self._clock())

    async def pull_events(
        self, *, repo: str | None = None, number: int | None = None, since: float | None = None
    ) -> list[PullEvent]:
        return await self._run(pull_events, repo=repo, number=number, since=since)

    async def query_runs(self, query: RunQuery) -> RunPage:
        return await self._run(views.query_runs, query, select_runs)

    async def spend_rows(
        self, *, repos: frozenset[str] | None, since: float | None = None
    ) -> list[SpendRow]:
        return await self._run(views.spend_rows, repos=repos, since=since)

    async def run_tallies(
        self, *, duration_buckets: Sequence[float], cost_buckets: Sequence[float]
    ) -> list[RunTally]:
        return await self._run(
            views.run_tallies, duration_buckets=duration_buckets, cost_buckets=cost_buckets
        )

    async def record_metrics(
        self,
        *,
        add: Mapping[tuple[str, str], float] | None = None,
        set_to: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                views.record_metrics(conn, dict(add or {}), dict(set_to or {}), self._clock())

        await self._run(write)

    async def metric_values(self) -> list[MetricValue]:
        return await self._run(views.metric_values)

    async def claim(self, key: str, owner: str, *, ttl_s: float) -> bool:
        if ttl_s <= 0:
            raise ValueError(f"a claim needs a positive ttl_s, not {ttl_s}")
        return await self._run(claim, key, owner, self._clock(), ttl_s)

    async def release(self, key: str, owner: str) -> bool:
        return await self._run(release, key, owner)

    async def prune(self, *, events_before: float, removed_repos_before: float) -> Pruned:
        return await self._run(prune, events_before, removed_repos_before, self._clock())

    async def record_removed(
        self, repos: Sequence[str], *, installation_id: int, reason: str
    ) -> None:
        await self._run(record_removed, list(repos), installation_id, reason, self._clock())

    async def removed_repos(self, *, since: float = 0.0) -> list[RemovedRepo]:
        return await self._run(removed_repos, since)

    async def purge_installation(self, installation_id: int) -> int:
        return await self._run(purge_installation, installation_id)

    async def schema_current(self) -> bool:
        try:
            applied = await self._run(applied_versions)
        except sqlite3.Error as exc:
            raise StoreError(f"the database does not answer: {exc}") from exc
        return set(applied) == {m.version for m in MIGRATIONS}

    async def close(self) -> None:
        """Close the connection once the calls already made have run."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
