"""The SQL of budgets on SQLite: costs by source, run history, reservations and remembered caps.

Plain functions of a connection, like `bot.store.sqlite`'s; run them on the thread that owns it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.store.base import BudgetCap, CostBreakdown, Reservation
from bot.store.db import transaction
from bot.store.sqlite_rows import filters, select_runs

if TYPE_CHECKING:
    import sqlite3

    from bot.store.base import RunRecord

_BREAKDOWN = (
    "SELECT"
    " COALESCE(SUM(CASE WHEN cost_usd IS NOT NULL AND cost_source != 'priced'"
    " THEN cost_usd END), 0),"
    " COALESCE(SUM(CASE WHEN cost_usd IS NOT NULL AND cost_source = 'priced'"
    " THEN cost_usd END), 0),"
    " COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), 0),"
    " COUNT(*) FROM runs WHERE "
)
# What the run has cost so far is in its row already (and in `spend`): only the rest of its cap
# is still held.
_HELD = (
    "SELECT COALESCE(SUM(MAX(r.amount_usd - COALESCE(runs.cost_usd, 0), 0)), 0) "
    "FROM reservations r LEFT JOIN runs ON runs.id = r.run_id WHERE "
)
# Runs in which the agent ran to an end (refused, queued, cancelled and waiting ones did not).
ENDED = ("success", "failed", "timed_out", "stopped_at_budget")


def cost_breakdown(
    conn: sqlite3.Connection,
    *,
    since: float,
    until: float | None,
    repo: str | None,
    owner: str | None,
    requester: str | None,
) -> CostBreakdown:
    clauses, params = filters(since=since, until=until, repo=repo, owner=owner, requester=requester)
    where = " AND ".join([*clauses, "agent != ''"])
    query = _BREAKDOWN + where
    reported, priced, unknown, runs = conn.execute(query, params).fetchone()
    return CostBreakdown(
        reported_usd=float(reported),
        priced_usd=float(priced),
        unknown_runs=int(unknown),
        runs=int(runs),
    )


def history(
    conn: sqlite3.Connection, *, repo: str, agent: str, label: str, verb: str, limit: int
) -> list[RunRecord]:
    alike = "label = ?" if label else "label = '' AND trigger = 'command' AND verb = ?"
    ended = ", ".join("?" for _ in ENDED)
    where = (
        f"WHERE repo = ? AND agent = ? AND {alike} AND status IN ({ended})"
        " AND cost_usd IS NOT NULL AND duration_s IS NOT NULL"
        " ORDER BY created_at DESC, rowid DESC LIMIT ?"
    )
    return select_runs(conn, where, (repo, agent, label or verb, *ENDED, limit))


def reserve(conn: sqlite3.Connection, r: Reservation) -> None:
    conn.execute(
        "INSERT INTO reservations (run_id, repo, owner, requester, amount_usd, created_at, "
        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
        "repo = excluded.repo, owner = excluded.owner, requester = excluded.requester, "
        "amount_usd = excluded.amount_usd, created_at = excluded.created_at, "
        "expires_at = excluded.expires_at",
        (r.run_id, r.repo, r.owner, r.requester, r.amount_usd, r.created_at, r.expires_at),
    )


def release_reservation(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("DELETE FROM reservations WHERE run_id = ?", (run_id,)).rowcount == 1


def held(
    conn: sqlite3.Connection,
    *,
    now: float,
    repo: str | None,
    owner: str | None,
    requester: str | None,
) -> float:
    named: list[tuple[str, Any]] = [
        ("r.repo = ?", repo),
        ("r.owner = ?", owner),
        ("r.requester = ?", requester),
    ]
    given = [(clause, value) for clause, value in named if value is not None]
    where = " AND ".join(["r.expires_at > ?", *(clause for clause, _ in given)])
    query = _HELD + where
    return float(conn.execute(query, (now, *(value for _, value in given))).fetchone()[0])


def expire_reservations(conn: sqlite3.Connection, *, now: float) -> int:
    return conn.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,)).rowcount


def record_cap(conn: sqlite3.Connection, cap: BudgetCap) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO budget_caps (scope, name, limit_usd, source, seen_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, name) DO UPDATE SET "
            "limit_usd = excluded.limit_usd, source = excluded.source, "
            "seen_at = excluded.seen_at",
            (cap.scope, cap.name, cap.limit_usd, cap.source, cap.seen_at),
        )


def budget_caps(conn: sqlite3.Connection) -> list[BudgetCap]:
    rows = conn.execute(
        "SELECT scope, name, limit_usd, source, seen_at FROM budget_caps ORDER BY scope, name"
    ).fetchall()
    return [
        BudgetCap(
            scope=str(scope),
            name=str(name),
            limit_usd=None if limit is None else float(limit),
            source=str(source),
            seen_at=float(seen),
        )
        for scope, name, limit, source, seen in rows
    ]
