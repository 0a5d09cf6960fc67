"""The PostgreSQL Store: the same tables and promises as the SQLite one, for many processes on
many machines. Every call takes a connection of the process's pool for its own duration."""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any, Self

from bot.store import pgpool, pgschema
from bot.store import postgres_reads as reads
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
from bot.store.errors import StoreError
from bot.store.shared_sql import LOST_BY_INSTALLATION

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType

    from bot.store.pgpool import Connection, Pool
    from bot.store.pulls import PullEvent
    from bot.store.views import MetricValue, RunPage, RunQuery, RunTally, SpendRow

_COLUMNS = ", ".join(RUN_FIELDS)
# The runs of repositories an installation lost: named ones, or all of an account's (`owner/*`).
_LOST = LOST_BY_INSTALLATION.replace("?", "%s").replace("'%/*'", "'%%/*'")
_PURGE_RUNS = f"DELETE FROM runs WHERE {_LOST}"  # noqa: S608 - constant
_PURGE_EVENTS = f"DELETE FROM run_events WHERE run_id IN (SELECT id FROM runs WHERE {_LOST})"  # noqa: S608
# Two-key advisory locks: this namespace, then the run's hash (its events' sequence).
_EVENTS_LOCK = 0x0BA7_0002


def _take_new(name: str) -> str:
    # A status comment, once made, is never forgotten by a writer that has not seen it yet.
    if name == "comment_id":
        return "comment_id = COALESCE(excluded.comment_id, runs.comment_id)"
    return f"{name} = excluded.{name}"


_UPDATE_ALL = ", ".join(_take_new(name) for name in RUN_FIELDS if name != "id")
_UPDATE_COMMENT = "comment_id = COALESCE(runs.comment_id, excluded.comment_id)"
_UPSERT = (
    f"INSERT INTO runs ({_COLUMNS}) VALUES ({', '.join('%s' for _ in RUN_FIELDS)}) "  # noqa: S608
    "ON CONFLICT (id) DO UPDATE SET "
)


def _stored(value: object) -> object:
    # Booleans are INTEGER 0/1 in the shared schema.
    return int(value) if isinstance(value, bool) else value


class PostgresStore:
    """A `Store` on PostgreSQL. `PostgresStore.open(url)` makes its own pool; the runtime hands
    in the pool its job queue uses too (`PostgresStore(pool)`), and closes that itself."""

    def __init__(
        self, pool: Pool, *, clock: Callable[[], float] = time.time, owns_pool: bool = False
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._owns_pool = owns_pool
        self._closed = False

    @classmethod
    async def open(
        cls, url: str, *, clock: Callable[[], float] = time.time, max_size: int = 4
    ) -> PostgresStore:
        """A store with a pool of its own (for commands; servers share theirs)."""
        pool = pgpool.make_pool(url, max_size=max_size)
        await pgpool.open_pool(pool)
        return cls(pool, clock=clock, owns_pool=True)

    def _conn(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        if self._closed:
            raise StoreError("the store is closed")
        return pgpool.connection(self._pool)

    async def _runs(self, where: str, params: Sequence[object]) -> list[RunRecord]:
        """`where` is a constant clause of the caller's; values go in `params` only."""
        async with self._conn() as conn:
            return await reads.select_runs(conn, where, params)

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._runs("WHERE id = %s", (run_id,))
        return rows[0] if rows else None

    async def save_run(self, record: RunRecord, *, only_its_comment: bool = False) -> None:
        updates = _UPDATE_COMMENT if only_its_comment else _UPDATE_ALL
        values = [_stored(getattr(record, name)) for name in RUN_FIELDS]
        async with self._conn() as conn:
            await conn.execute(_UPSERT + updates, values)

    async def runs_for_target(self, repo: str, number: int) -> list[RunRecord]:
        return await self._runs(
            "WHERE repo = %s AND number = %s ORDER BY created_at, id", (repo, number)
        )

    async def runs_for_pull(self, repo: str, pr_number: int) -> list[RunRecord]:
        return await self._runs(
            "WHERE repo = %s AND (pr_number = %s OR number = %s) ORDER BY created_at, id",
            (repo, pr_number, pr_number),
        )

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
        clauses, params = reads.filters(since=since, until=until, repo=repo)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        # LIMIT NULL: no limit.
        return await self._runs(
            where + "ORDER BY created_at DESC, id DESC LIMIT %s", (*params, limit)
        )

    async def spend(
        self,
        *,
        since: float,
        until: float | None = None,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> float:
        clauses, params = reads.filters(
            since=since, until=until, repo=repo, owner=owner, requester=requester
        )
        where = " AND ".join([*clauses, "cost_usd IS NOT NULL"])
        query = f"SELECT COALESCE(SUM(cost_usd), 0) FROM runs WHERE {where}"  # noqa: S608
        async with self._conn() as conn:
            row = await (await conn.execute(query, params)).fetchone()
        assert row is not None  # an aggregate always has its row
        return float(row[0])

    async def cost_breakdown(
        self,
        *,
        since: float,
        until: float | None = None,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> CostBreakdown:
        async with self._conn() as conn:
            return await reads.cost_breakdown(
                conn, since=since, until=until, repo=repo, owner=owner, requester=requester
            )

    async def history(
        self, *, repo: str, agent: str, label: str, verb: str, limit: int
    ) -> list[RunRecord]:
        async with self._conn() as conn:
            return await reads.history(
                conn, repo=repo, agent=agent, label=label, verb=verb, limit=limit
            )

    async def reserve(self, reservation: Reservation) -> None:
        async with self._conn() as conn:
            await reads.reserve(conn, reservation)

    async def release_reservation(self, run_id: str) -> bool:
        async with self._conn() as conn:
            return await reads.release_reservation(conn, run_id)

    async def held(
        self,
        *,
        now: float,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> float:
        async with self._conn() as conn:
            return await reads.held(conn, now=now, repo=repo, owner=owner, requester=requester)

    async def expire_reservations(self, *, now: float) -> int:
        async with self._conn() as conn:
            return await reads.expire_reservations(conn, now=now)

    async def record_cap(self, cap: BudgetCap) -> None:
        async with self._conn() as conn:
            await reads.record_cap(conn, cap)

    async def budget_caps(self) -> list[BudgetCap]:
        async with self._conn() as conn:
            return await reads.budget_caps(conn)

    async def add_pull_event(self, event: PullEvent) -> bool:
        encoded = json.dumps(event.data, separators=(",", ":"), allow_nan=False)
        async with self._conn() as conn:
            return await reads.add_pull_event(conn, event, encoded, self._clock())

    async def pull_events(
        self, *, repo: str | None = None, number: int | None = None, since: float | None = None
    ) -> list[PullEvent]:
        async with self._conn() as conn:
            return await reads.pull_events(conn, repo=repo, number=number, since=since)

    async def query_runs(self, query: RunQuery) -> RunPage:
        async with self._conn() as conn:
            return await reads.query_runs(conn, query)

    async def spend_rows(
        self, *, repos: frozenset[str] | None, since: float | None = None
    ) -> list[SpendRow]:
        async with self._conn() as conn:
            return await reads.spend_rows(conn, repos=repos, since=since)

    async def run_tallies(
        self, *, duration_buckets: Sequence[float], cost_buckets: Sequence[float]
    ) -> list[RunTally]:
        async with self._conn() as conn:
            return await reads.run_tallies(
                conn, duration_buckets=duration_buckets, cost_buckets=cost_buckets
            )

    async def record_metrics(
        self,
        *,
        add: Mapping[tuple[str, str], float] | None = None,
        set_to: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        conn: Connection
        async with self._conn() as conn, conn.transaction():
            await reads.record_metrics(conn, dict(add or {}), dict(set_to or {}), self._clock())

    async def metric_values(self) -> list[MetricValue]:
        async with self._conn() as conn:
            return await reads.metric_values(conn)

    async def append_event(
        self, run_id: str, kind: str, data: Mapping[str, Any] | None = None
    ) -> RunEvent:
        # Encoded here, so data that is not JSON fails before anything is written.
        payload = dict(data or {})
        encoded = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        at = self._clock()
        conn: Connection
        async with self._conn() as conn, conn.transaction():
            # One writer per run at a time: the next number is read and taken under the lock.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_EVENTS_LOCK, run_id)
            )
            row = await (
                await conn.execute(
                    "INSERT INTO run_events (run_id, seq, time, kind, data) "
                    "SELECT %s, COALESCE(MAX(seq), 0) + 1, %s, %s, %s "
                    "FROM run_events WHERE run_id = %s RETURNING seq",
                    (run_id, at, kind, encoded, run_id),
                )
            ).fetchone()
        assert row is not None
        return RunEvent(
            run_id=run_id, seq=int(row[0]), time=at, kind=kind, data=json.loads(encoded)
        )

    async def events(self, run_id: str, *, after_seq: int = 0) -> list[RunEvent]:
        async with self._conn() as conn:
            rows = await (
                await conn.execute(
                    "SELECT seq, time, kind, data FROM run_events "
                    "WHERE run_id = %s AND seq > %s ORDER BY seq",
                    (run_id, after_seq),
                )
            ).fetchall()
        return [
            RunEvent(run_id=run_id, seq=int(seq), time=float(at), kind=kind, data=json.loads(data))
            for seq, at, kind, data in rows
        ]

    async def claim(self, key: str, owner: str, *, ttl_s: float) -> bool:
        if ttl_s <= 0:
            raise ValueError(f"a claim needs a positive ttl_s, not {ttl_s}")
        now = self._clock()
        conn: Connection
        async with self._conn() as conn, conn.transaction():
            # An expired claim is free to take: it goes first, and whoever inserts next holds
            # the key (a concurrent taker waits on the row, then finds it held).
            await conn.execute("DELETE FROM claims WHERE key = %s AND expires_at <= %s", (key, now))
            cursor = await conn.execute(
                "INSERT INTO claims (key, owner, expires_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at "
                "WHERE claims.owner = excluded.owner",
                (key, owner, now + ttl_s),
            )
            return cursor.rowcount == 1

    async def release(self, key: str, owner: str) -> bool:
        async with self._conn() as conn:
            cursor = await conn.execute(
                "DELETE FROM claims WHERE key = %s AND owner = %s", (key, owner)
            )
        return cursor.rowcount == 1

    async def prune(self, *, events_before: float, removed_repos_before: float) -> Pruned:
        conn: Connection
        async with self._conn() as conn, conn.transaction():
            events = await conn.execute("DELETE FROM run_events WHERE time < %s", (events_before,))
            removed = await conn.execute(
                "DELETE FROM removed_repos WHERE removed_at < %s", (removed_repos_before,)
            )
            claims = await conn.execute(
                "DELETE FROM claims WHERE expires_at <= %s", (self._clock(),)
            )
        return Pruned(
            events=events.rowcount, removed_repos=removed.rowcount, claims=claims.rowcount
        )

    async def record_removed(
        self, repos: Sequence[str], *, installation_id: int, reason: str
    ) -> None:
        at = self._clock()
        conn: Connection
        async with self._conn() as conn, conn.transaction(), conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO removed_repos (repo, installation_id, reason, removed_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (repo, installation_id) DO UPDATE SET "
                "reason = excluded.reason, removed_at = excluded.removed_at",
                [(repo, installation_id, reason, at) for repo in repos],
            )

    async def removed_repos(self, *, since: float = 0.0) -> list[RemovedRepo]:
        async with self._conn() as conn:
            rows = await (
                await conn.execute(
                    "SELECT repo, installation_id, reason, removed_at FROM removed_repos "
                    "WHERE removed_at >= %s ORDER BY removed_at, repo",
                    (since,),
                )
            ).fetchall()
        return [RemovedRepo(str(r), int(i), str(why), float(at)) for r, i, why, at in rows]

    async def purge_installation(self, installation_id: int) -> int:
        conn: Connection
        async with self._conn() as conn, conn.transaction():
            await conn.execute(_PURGE_EVENTS, (installation_id,))
            deleted = await conn.execute(_PURGE_RUNS, (installation_id,))
        return deleted.rowcount

    async def schema_current(self) -> bool:
        return await self.schema_problem() is None

    async def schema_problem(self) -> str | None:
        """Why this Baton must not use the database's schema (with what to run), or None."""
        async with self._conn() as conn:
            applied = await pgschema.applied_versions(conn)
        return pgschema.state_of(applied).problem()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_pool:
            await self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
