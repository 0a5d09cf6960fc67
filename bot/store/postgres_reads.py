"""The PostgreSQL store's budget, pull-request and read-model SQL: what `bot.store.sqlite_budget`,
`sqlite_pulls` and `sqlite_views` do on SQLite, with the same results (the contract suite runs
both). Functions of a connection the caller holds; values always go in parameters."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bot.store.base import RUN_FIELDS, BudgetCap, CostBreakdown, Reservation, RunRecord
from bot.store.pulls import PullEvent, PullEventKind
from bot.store.sqlite_budget import ENDED
from bot.store.tally_sql import tallies, tally_query
from bot.store.views import MetricValue, RunPage, RunQuery, RunTally, SpendRow

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from bot.store.pgpool import Connection

SELECT_RUNS = f"SELECT {', '.join(RUN_FIELDS)} FROM runs"  # noqa: S608 - constant column names


def record(row: Sequence[Any]) -> RunRecord:
    data = dict(zip(RUN_FIELDS, row, strict=True))
    data["is_pull_request"] = bool(data["is_pull_request"])
    return RunRecord(**data)


async def select_runs(conn: Connection, where: str, params: Sequence[object]) -> list[RunRecord]:
    """`where` is a constant clause of the caller's; values go in `params` only."""
    cursor = await conn.execute(f"{SELECT_RUNS} {where}", params)
    return [record(row) for row in await cursor.fetchall()]


def filters(
    *,
    since: float | None,
    until: float | None,
    repo: str | None,
    owner: str | None = None,
    requester: str | None = None,
) -> tuple[list[str], list[object]]:
    named = [
        ("created_at >= %s", since),
        ("created_at < %s", until),
        ("repo = %s", repo),
        ("repo LIKE %s", None if owner is None else f"{owner}/%"),
        ("requester = %s", requester),
    ]
    given = [(clause, value) for clause, value in named if value is not None]
    return [clause for clause, _ in given], [value for _, value in given]


# ------------------------------------------------------------------ budgets

_BREAKDOWN = (
    "SELECT"
    " COALESCE(SUM(CASE WHEN cost_usd IS NOT NULL AND cost_source != 'priced'"
    " THEN cost_usd END), 0),"
    " COALESCE(SUM(CASE WHEN cost_usd IS NOT NULL AND cost_source = 'priced'"
    " THEN cost_usd END), 0),"
    " COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), 0),"
    " COUNT(*) FROM runs WHERE "
)
# What the run has cost so far is in its row already: only the rest of its cap is still held.
_HELD = (
    "SELECT COALESCE(SUM(GREATEST(r.amount_usd - COALESCE(runs.cost_usd, 0), 0)), 0) "
    "FROM reservations r LEFT JOIN runs ON runs.id = r.run_id WHERE "
)


async def cost_breakdown(
    conn: Connection,
    *,
    since: float,
    until: float | None,
    repo: str | None,
    owner: str | None,
    requester: str | None,
) -> CostBreakdown:
    clauses, params = filters(since=since, until=until, repo=repo, owner=owner, requester=requester)
    where = " AND ".join([*clauses, "agent != ''"])
    row = await (await conn.execute(_BREAKDOWN + where, params)).fetchone()
    assert row is not None
    reported, priced, unknown, runs = row
    return CostBreakdown(
        reported_usd=float(reported),
        priced_usd=float(priced),
        unknown_runs=int(unknown),
        runs=int(runs),
    )


async def history(
    conn: Connection, *, repo: str, agent: str, label: str, verb: str, limit: int
) -> list[RunRecord]:
    alike = "label = %s" if label else "label = '' AND trigger = 'command' AND verb = %s"
    where = (
        f"WHERE repo = %s AND agent = %s AND {alike} AND status = ANY(%s)"
        " AND cost_usd IS NOT NULL AND duration_s IS NOT NULL"
        " ORDER BY created_at DESC, id DESC LIMIT %s"
    )
    return await select_runs(conn, where, (repo, agent, label or verb, list(ENDED), limit))


async def reserve(conn: Connection, r: Reservation) -> None:
    await conn.execute(
        "INSERT INTO reservations (run_id, repo, owner, requester, amount_usd, created_at, "
        "expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET "
        "repo = excluded.repo, owner = excluded.owner, requester = excluded.requester, "
        "amount_usd = excluded.amount_usd, created_at = excluded.created_at, "
        "expires_at = excluded.expires_at",
        (r.run_id, r.repo, r.owner, r.requester, r.amount_usd, r.created_at, r.expires_at),
    )


async def release_reservation(conn: Connection, run_id: str) -> bool:
    cursor = await conn.execute("DELETE FROM reservations WHERE run_id = %s", (run_id,))
    return cursor.rowcount == 1


async def held(
    conn: Connection, *, now: float, repo: str | None, owner: str | None, requester: str | None
) -> float:
    named: list[tuple[str, Any]] = [
        ("r.repo = %s", repo),
        ("r.owner = %s", owner),
        ("r.requester = %s", requester),
    ]
    given = [(clause, value) for clause, value in named if value is not None]
    where = " AND ".join(["r.expires_at > %s", *(clause for clause, _ in given)])
    params = (now, *(value for _, value in given))
    row = await (await conn.execute(_HELD + where, params)).fetchone()
    assert row is not None
    return float(row[0])


async def expire_reservations(conn: Connection, *, now: float) -> int:
    cursor = await conn.execute("DELETE FROM reservations WHERE expires_at <= %s", (now,))
    return cursor.rowcount


async def record_cap(conn: Connection, cap: BudgetCap) -> None:
    await conn.execute(
        "INSERT INTO budget_caps (scope, name, limit_usd, source, seen_at) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (scope, name) DO UPDATE SET "
        "limit_usd = excluded.limit_usd, source = excluded.source, seen_at = excluded.seen_at",
        (cap.scope, cap.name, cap.limit_usd, cap.source, cap.seen_at),
    )


async def budget_caps(conn: Connection) -> list[BudgetCap]:
    cursor = await conn.execute(
        "SELECT scope, name, limit_usd, source, seen_at FROM budget_caps ORDER BY scope, name"
    )
    return [
        BudgetCap(
            scope=str(scope),
            name=str(name),
            limit_usd=None if limit is None else float(limit),
            source=str(source),
            seen_at=float(seen),
        )
        for scope, name, limit, source, seen in await cursor.fetchall()
    ]


# ------------------------------------------------------------------ pull request facts


async def add_pull_event(conn: Connection, event: PullEvent, data: str, now: float) -> bool:
    cursor = await conn.execute(
        "INSERT INTO pull_events (repo, number, key, kind, at, received_at, data) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (repo, key) DO NOTHING",
        (event.repo, event.number, event.key, event.kind.value, event.at, now, data),
    )
    return cursor.rowcount == 1


async def pull_events(
    conn: Connection, *, repo: str | None, number: int | None, since: float | None
) -> list[PullEvent]:
    named = [("repo = %s", repo), ("number = %s", number), ("at >= %s", since)]
    given = [(clause, value) for clause, value in named if value is not None]
    where = f"WHERE {' AND '.join(c for c, _ in given)} " if given else ""
    cursor = await conn.execute(
        "SELECT repo, number, key, kind, at, data FROM pull_events "  # noqa: S608 - constant clauses
        f"{where}ORDER BY at, received_at, key",
        tuple(v for _, v in given),
    )
    return [
        PullEvent(
            repo=str(repo_),
            number=int(number_),
            key=str(key),
            kind=PullEventKind(kind),
            at=float(at),
            data=json.loads(data),
        )
        for repo_, number_, key, kind, at, data in await cursor.fetchall()
    ]


# ------------------------------------------------------------------ read models


def _where(query: RunQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if query.repos is not None:
        if not query.repos:
            return "WHERE false", []
        clauses.append("repo = ANY(%s)")
        params.append(sorted(query.repos))
    named = [
        ("repo = %s", query.repo),
        ("agent = %s", query.agent),
        ("status = %s", query.status),
        ("requester = %s", query.requester),
        ("label = %s", query.label),
        ("created_at >= %s", query.since),
        ("created_at < %s", query.until),
    ]
    for clause, value in named:
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


async def query_runs(conn: Connection, query: RunQuery) -> RunPage:
    where, params = _where(query)
    row = await (await conn.execute(f"SELECT COUNT(*) FROM runs {where}", params)).fetchone()  # noqa: S608
    assert row is not None
    page = f"{where} ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s"
    runs = await select_runs(conn, page, (*params, max(0, query.limit), max(0, query.offset)))
    return RunPage(runs=runs, total=int(row[0]))


async def spend_rows(
    conn: Connection, *, repos: frozenset[str] | None, since: float | None
) -> list[SpendRow]:
    where, params = _where(RunQuery(repos=repos, since=since))
    cursor = await conn.execute(
        "SELECT repo, agent, requester, created_at, cost_usd, cost_source FROM runs "  # noqa: S608
        f"{where} ORDER BY created_at DESC, id DESC",
        params,
    )
    return [
        SpendRow(
            repo=str(repo),
            agent=str(agent),
            requester=str(requester),
            created_at=float(at),
            cost_usd=None if cost is None else float(cost),
            cost_source=str(source),
        )
        for repo, agent, requester, at, cost, source in await cursor.fetchall()
    ]


async def run_tallies(
    conn: Connection, *, duration_buckets: Sequence[float], cost_buckets: Sequence[float]
) -> list[RunTally]:
    sql, params = tally_query("%s", duration_buckets=duration_buckets, cost_buckets=cost_buckets)
    rows = await (await conn.execute(sql, params)).fetchall()
    return tallies(rows, duration_buckets=len(duration_buckets))


_ADD = (
    "INSERT INTO metric_values (name, labels, value, updated_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (name, labels) DO UPDATE SET value = metric_values.value + excluded.value, "
    "updated_at = excluded.updated_at"
)
_SET = (
    "INSERT INTO metric_values (name, labels, value, updated_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (name, labels) DO UPDATE SET value = excluded.value, "
    "updated_at = excluded.updated_at"
)


async def record_metrics(
    conn: Connection,
    add: Mapping[tuple[str, str], float],
    set_to: Mapping[tuple[str, str], float],
    at: float,
) -> None:
    """Inside the caller's transaction; sorted, so two writers lock the rows in one order."""
    async with conn.cursor() as cursor:
        if add:
            rows = [(name, labels, v, at) for (name, labels), v in sorted(add.items())]
            await cursor.executemany(_ADD, rows)
        if set_to:
            rows = [(name, labels, v, at) for (name, labels), v in sorted(set_to.items())]
            await cursor.executemany(_SET, rows)


async def metric_values(conn: Connection) -> list[MetricValue]:
    cursor = await conn.execute(
        "SELECT name, labels, value, updated_at FROM metric_values ORDER BY name, labels"
    )
    return [
        MetricValue(name=name, labels=json.loads(labels), value=float(v), updated_at=float(at))
        for name, labels, v, at in await cursor.fetchall()
    ]
