"""`baton runs`, `baton runs show`, `baton spend` and `baton purge`: the ledger and event log from
the terminal, on SQLite or PostgreSQL.

Each uses an existing database only: where there is none, it says so instead of creating one.
"""

from __future__ import annotations

import asyncio
import calendar
import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from bot.database import open_store
from bot.render import format_cost, format_duration
from bot.spend_report import By, group, table
from bot.spend_report import as_json as spend_json
from bot.store.spend import month_bounds

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.store.base import BudgetCap, RunEvent, RunRecord, Store
    from config.settings import Settings

T = TypeVar("T")
_TIMES = frozenset({"created_at", "started_at", "finished_at"})
_SUMMARY_VALUE_CHARS = 60


def _read(settings: Settings, read: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = await open_store(settings.database_url, create=False)
        try:
            return await read(store)
        finally:
            await store.close()

    return asyncio.run(main())


def _when(epoch: float, *, precise: bool = False) -> str:
    text = time.strftime("%Y-%m-%d %H:%M:%S" if precise else "%Y-%m-%d %H:%M", time.gmtime(epoch))
    return f"{text}.{int(epoch % 1 * 1000):03d}" if precise else text


def print_runs(
    settings: Settings, *, repo: str | None, limit: int, out: TextIO, as_json: bool = False
) -> int:
    runs = _read(settings, lambda store: store.recent_runs(limit=limit, repo=repo))
    if as_json:
        out.write(json.dumps([dataclasses.asdict(r) for r in runs], indent=2) + "\n")
        return 0
    if not runs:
        out.write("no runs yet\n")
        return 0
    out.write(
        f"{'RUN':<8} {'WHEN':<17} {'TARGET':<28} {'AGENT':<14} {'MODEL':<20} "
        f"{'STATUS':<18} {'DURATION':>9}  COST\n"
    )
    for r in runs:
        target = f"{r.repo}#{r.number}"
        out.write(
            f"{r.id:<8} {_when(r.created_at):<17} {target:<28.28} {r.agent:<14.14} "
            f"{r.model:<20.20} {r.status:<18} {format_duration(r.duration_s):>9}  "
            f"{format_cost(r.cost_usd, r.cost_source, r.price_date)}\n"
        )
    return 0


def print_run(
    settings: Settings, run_id: str, *, out: TextIO, err: TextIO, as_json: bool = False
) -> int:
    """One run's facts and its timeline; exit 1 for a run the ledger does not know."""

    async def read(store: Store) -> tuple[RunRecord | None, list[RunEvent]]:
        return await store.get_run(run_id), await store.events(run_id)

    record, events = _read(settings, read)
    if record is None:
        err.write(f"baton: there is no run {run_id!r} in the ledger (`baton runs` lists them)\n")
        return 1
    if as_json:
        timeline = [{"seq": e.seq, "time": e.time, "kind": e.kind, "data": e.data} for e in events]
        out.write(json.dumps({**dataclasses.asdict(record), "events": timeline}, indent=2) + "\n")
        return 0
    out.write(f"run {record.id}: {record.repo}#{record.number}\n")
    out.writelines(f"  {name:<18} {value}\n" for name, value in _facts(record))
    out.write("timeline:\n" if events else "timeline: no events\n")
    out.writelines(
        f"  {_when(e.time, precise=True)}  {e.kind:<16} {event_summary(e.data)}".rstrip() + "\n"
        for e in events
    )
    return 0


def _facts(record: RunRecord) -> list[tuple[str, str]]:
    """The fields that say something (set, non-zero), readable: times in UTC, cost with source."""
    facts: list[tuple[str, str]] = []
    for name, value in dataclasses.asdict(record).items():
        if name in {"id", "repo", "number", "cost_source", "price_date"}:
            continue  # in the heading, or part of the cost
        if name == "cost_usd":
            facts.append(("cost", format_cost(value, record.cost_source, record.price_date)))
        elif value is None or value == "" or value is False or value == 0:
            continue
        elif name in _TIMES:
            facts.append((name.removesuffix("_at"), _when(value, precise=True) + " UTC"))
        elif name == "duration_s":
            facts.append(("duration", format_duration(value)))
        else:
            facts.append((name, str(value)))
    return facts


def event_summary(data: dict[str, Any]) -> str:
    """`key=value` pairs on one line: strings bare unless they need quotes, long values cut."""
    parts = []
    for key, value in data.items():
        text = value if isinstance(value, str) and value and " " not in value else None
        if text is None:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if len(text) > _SUMMARY_VALUE_CHARS:
            text = text[: _SUMMARY_VALUE_CHARS - 1] + "…"
        parts.append(f"{key}={text}")
    return " ".join(parts)


def month_start(text: str) -> float:
    """`YYYY-MM` as the epoch seconds its UTC month starts at; ValueError when it is not one."""
    try:
        parsed = time.strptime(text, "%Y-%m")
    except ValueError:
        raise ValueError(f"--month {text!r} is not a month like 2027-01") from None
    return float(calendar.timegm((parsed.tm_year, parsed.tm_mon, 1, 0, 0, 0)))


def print_spend(
    settings: Settings,
    *,
    repo: str | None,
    out: TextIO,
    now: float | None = None,
    by: By = "repo",
    month: str | None = None,
    as_json: bool = False,
) -> int:
    """Spend from the ledger for one UTC calendar month (this one unless `month`; every month
    with `by="month"` and no `month`), grouped `by`, reported, priced and unknown apart, with
    the monthly cap each group last ran under and what is left of it. ValueError for a bad
    `month`."""
    every_month = by == "month" and month is None
    start = month_start(month) if month else (time.time() if now is None else now)
    since, until = (None, None) if every_month else month_bounds(start)

    async def read(store: Store) -> tuple[list[RunRecord], list[BudgetCap]]:
        return await store.list_runs(repo=repo, since=since, until=until), await store.budget_caps()

    runs, caps = _read(settings, read)
    rows = group(runs, by, caps)
    label = "every month" if since is None else time.strftime("%Y-%m", time.gmtime(since))
    scope = repo or "all repositories"
    if as_json:
        month_shown = None if since is None else label
        data = {"month": month_shown, "by": by, "repo": repo, "rows": spend_json(rows)}
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    known = sum(r.total_usd for r in rows)
    unknown = sum(r.unknown_runs for r in rows)
    out.write(
        f"{label} (UTC) spend for {scope}: ${known:.4f} reported and priced over "
        f"{sum(r.runs for r in rows)} runs"
        + (f"; {unknown} with unknown cost, not counted" if unknown else "")
        + "\n"
    )
    if rows:
        out.write(table(rows, by))
    return 0


def purge_installation(
    settings: Settings, installation_id: int, *, out: TextIO, err: TextIO
) -> int:
    """`baton purge --installation ID`: the ledger rows of what an installation lost."""

    async def purge(store: Store) -> tuple[list[str], int]:
        removed = await store.removed_repos()
        repos = sorted({r.repo for r in removed if r.installation_id == installation_id})
        return repos, (await store.purge_installation(installation_id) if repos else 0)

    repos, deleted = _read(settings, purge)
    if not repos:
        err.write(
            f"baton: installation {installation_id} has lost no repository Baton knows of "
            "(it purges only what an uninstall, suspension or removal took away)\n"
        )
        return 1
    out.write(
        f"deleted {deleted} runs and their events, of installation {installation_id}'s "
        f"{', '.join(repos)}\n"
    )
    return 0
