"""`baton runs` and `baton spend`: the ledger from the terminal."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

from bot.database import open_existing_database
from bot.ledger import Ledger, month_start
from bot.render import format_cost, format_duration

if TYPE_CHECKING:
    from config.settings import Settings


def print_runs(settings: Settings, *, repo: str | None, limit: int, out: TextIO) -> int:
    conn = open_existing_database(settings.database_url)
    try:
        runs = Ledger(conn).recent(limit=limit, repo=repo)
    finally:
        conn.close()
    if not runs:
        out.write("no runs yet\n")
        return 0
    out.write(
        f"{'RUN':<8} {'WHEN':<17} {'TARGET':<28} {'AGENT':<14} {'MODEL':<20} "
        f"{'STATUS':<18} {'DURATION':>9}  COST\n"
    )
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.created_at))
        target = f"{r.repo}#{r.number}"
        out.write(
            f"{r.id:<8} {when:<17} {target:<28.28} {r.agent:<14.14} {r.model:<20.20} "
            f"{r.status:<18} {format_duration(r.duration_s):>9}  "
            f"{format_cost(r.cost_usd, r.cost_source, r.price_date)}\n"
        )
    return 0


def print_spend(settings: Settings, *, repo: str | None, out: TextIO) -> int:
    conn = open_existing_database(settings.database_url)
    try:
        ledger = Ledger(conn)
        since = month_start()
        total = ledger.spend(since=since, repo=repo)
        runs = [r for r in ledger.recent(limit=10_000, repo=repo) if r.created_at >= since]
    finally:
        conn.close()
    month = time.strftime("%Y-%m", time.gmtime(since))
    scope = repo or "all repositories"
    unknown = sum(1 for r in runs if r.cost_usd is None and r.agent)
    out.write(f"{month} spend for {scope}: ${total:.4f} over {len(runs)} runs")
    out.write(f" ({unknown} with unknown cost)\n" if unknown else "\n")
    by_agent: dict[str, float] = {}
    for r in runs:
        if r.cost_usd is not None:
            by_agent[r.agent] = by_agent.get(r.agent, 0.0) + r.cost_usd
    ranked = sorted(by_agent.items(), key=lambda kv: -kv[1])
    out.writelines(f"  {agent:<20} ${cost:.4f}\n" for agent, cost in ranked)
    return 0
