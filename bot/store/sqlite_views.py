"""The SQL of the store's read models (bot.store.views) on SQLite, as functions of a connection:
the dashboard's run pages and spend, `/metrics`' tallies and the workers' metric values."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bot.store.tally_sql import tallies, tally_query
from bot.store.views import MetricValue, RunPage, RunQuery, RunTally, SpendRow

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Mapping, Sequence

    from bot.store.base import RunRecord


def _where(query: RunQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if query.repos is not None:
        if not query.repos:
            return "WHERE 0 = 1", []
        clauses.append(f"repo IN ({', '.join('?' for _ in query.repos)})")
        params.extend(sorted(query.repos))
    named = [
        ("repo = ?", query.repo),
        ("agent = ?", query.agent),
        ("status = ?", query.status),
        ("requester = ?", query.requester),
        ("label = ?", query.label),
        ("created_at >= ?", query.since),
        ("created_at < ?", query.until),
    ]
    for clause, value in named:
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def query_runs(
    conn: sqlite3.Connection,
    query: RunQuery,
    select: Callable[[sqlite3.Connection, str, tuple[Any, ...]], list[RunRecord]],
) -> RunPage:
    where, params = _where(query)
    (total,) = conn.execute(f"SELECT COUNT(*) FROM runs {where}", params).fetchone()  # noqa: S608
    page = f"{where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
    runs = select(conn, page, (*params, max(0, query.limit), max(0, query.offset)))
    return RunPage(runs=runs, total=int(total))


def spend_rows(
    conn: sqlite3.Connection, *, repos: frozenset[str] | None, since: float | None
) -> list[SpendRow]:
    where, params = _where(RunQuery(repos=repos, since=since))
    rows = conn.execute(
        "SELECT repo, agent, requester, created_at, cost_usd, cost_source FROM runs "  # noqa: S608
        f"{where} ORDER BY created_at DESC, rowid DESC",
        params,
    ).fetchall()
    return [
        SpendRow(
            repo=repo,
            agent=agent,
            requester=requester,
            created_at=float(at),
            cost_usd=None if cost is None else float(cost),
            cost_source=source,
        )
        for repo, agent, requester, at, cost, source in rows
    ]


def run_tallies(
    conn: sqlite3.Connection, *, duration_buckets: Sequence[float], cost_buckets: Sequence[float]
) -> list[RunTally]:
    sql, params = tally_query("?", duration_buckets=duration_buckets, cost_buckets=cost_buckets)
    return tallies(conn.execute(sql, params).fetchall(), duration_buckets=len(duration_buckets))


_ADD = (
    "INSERT INTO metric_values (name, labels, value, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (name, labels) DO UPDATE SET value = metric_values.value + excluded.value, "
    "updated_at = excluded.updated_at"
)
_SET = (
    "INSERT INTO metric_values (name, labels, value, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (name, labels) DO UPDATE SET value = excluded.value, "
    "updated_at = excluded.updated_at"
)


def record_metrics(
    conn: sqlite3.Connection,
    add: Mapping[tuple[str, str], float],
    set_to: Mapping[tuple[str, str], float],
    at: float,
) -> None:
    conn.executemany(_ADD, [(name, labels, v, at) for (name, labels), v in add.items()])
    conn.executemany(_SET, [(name, labels, v, at) for (name, labels), v in set_to.items()])


def metric_values(conn: sqlite3.Connection) -> list[MetricValue]:
    rows = conn.execute(
        "SELECT name, labels, value, updated_at FROM metric_values ORDER BY name, labels"
    ).fetchall()
    return [
        MetricValue(name=name, labels=json.loads(labels), value=float(v), updated_at=float(at))
        for name, labels, v, at in rows
    ]
