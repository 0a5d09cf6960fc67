"""Spend from the ledger, grouped and shown (pure): reported, priced and unknown costs kept
apart, with the monthly cap each group last ran under and what is left of it. `baton spend`
prints it; `/agent budget` shows the scopes of one run the same way."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from bot.ledger import RunRecord
    from bot.store.base import BudgetCap

By = Literal["org", "repo", "agent", "requester", "month"]
BY: tuple[By, ...] = ("repo", "org", "agent", "requester", "month")
# The `budget_caps` scope a grouping's caps are remembered under (agents and months have none).
CAP_SCOPE: Mapping[str, str] = {"repo": "repo", "org": "org", "requester": "requester"}


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One group's runs (those in which an agent ran) and their costs by source."""

    key: str
    runs: int = 0
    reported_usd: float = 0.0
    priced_usd: float = 0.0
    unknown_runs: int = 0
    cap_usd: float | None = None
    cap_source: str = ""

    @property
    def total_usd(self) -> float:
        """What is known: reported and priced; unknown costs are not guessed."""
        return self.reported_usd + self.priced_usd

    @property
    def left_usd(self) -> float | None:
        return None if self.cap_usd is None else max(self.cap_usd - self.total_usd, 0.0)


def month_of(epoch: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(epoch))


def key_of(run: RunRecord, by: By) -> str:
    if by == "repo":
        return run.repo
    if by == "org":
        return run.repo.split("/", 1)[0]
    if by == "agent":
        return run.agent
    if by == "requester":
        return run.requester
    return month_of(run.created_at)


def add(row: SpendRow, run: RunRecord) -> SpendRow:
    reported, priced, unknown = row.reported_usd, row.priced_usd, row.unknown_runs
    if run.cost_usd is None:
        unknown += 1
    elif run.cost_source == "priced":
        priced += run.cost_usd
    else:
        reported += run.cost_usd
    return SpendRow(
        key=row.key,
        runs=row.runs + 1,
        reported_usd=reported,
        priced_usd=priced,
        unknown_runs=unknown,
    )


def group(runs: Iterable[RunRecord], by: By, caps: Iterable[BudgetCap] = ()) -> list[SpendRow]:
    """The runs an agent ran in, by `by`, most spent first; each with its monthly cap as the
    last run under it saw it (repositories, organizations and requesters only)."""
    rows: dict[str, SpendRow] = {}
    for run in runs:
        if not run.agent:
            continue  # refused, or never started: it cost nothing
        key = key_of(run, by)
        rows[key] = add(rows.get(key, SpendRow(key=key)), run)
    known = {c.name: c for c in caps if c.scope == CAP_SCOPE.get(by) and c.limit_usd is not None}
    out = [
        replace(row, cap_usd=known[key].limit_usd, cap_source=known[key].source)
        if key in known
        else row
        for key, row in rows.items()
    ]
    ordered = sorted(out, key=lambda r: r.key)
    if by == "month":
        return ordered
    return sorted(ordered, key=lambda r: -r.total_usd)


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def table(rows: list[SpendRow], by: By) -> str:
    """A text table for the terminal; caps and what is left where a monthly cap applies."""
    width = max([len(by), *(len(r.key) for r in rows)]) + 2
    head = (
        f"{by.upper():<{width}}{'RUNS':>6}{'REPORTED':>12}{'PRICED':>12}{'UNKNOWN':>9}"
        f"{'TOTAL':>12}{'CAP':>12}{'LEFT':>12}\n"
    )
    lines = [
        f"{r.key:<{width}}{r.runs:>6}{_usd(r.reported_usd):>12}{_usd(r.priced_usd):>12}"
        f"{r.unknown_runs:>9}{_usd(r.total_usd):>12}{_usd(r.cap_usd):>12}{_usd(r.left_usd):>12}\n"
        for r in rows
    ]
    total = SpendRow(
        key="total",
        runs=sum(r.runs for r in rows),
        reported_usd=sum(r.reported_usd for r in rows),
        priced_usd=sum(r.priced_usd for r in rows),
        unknown_runs=sum(r.unknown_runs for r in rows),
    )
    last = (
        f"{'total':<{width}}{total.runs:>6}{_usd(total.reported_usd):>12}"
        f"{_usd(total.priced_usd):>12}{total.unknown_runs:>9}{_usd(total.total_usd):>12}\n"
    )
    return head + "".join(lines) + last


def as_json(rows: list[SpendRow]) -> list[dict[str, object]]:
    return [
        {
            "key": r.key,
            "runs": r.runs,
            "reported_usd": round(r.reported_usd, 6),
            "priced_usd": round(r.priced_usd, 6),
            "unknown_runs": r.unknown_runs,
            "total_usd": round(r.total_usd, 6),
            "cap_usd": r.cap_usd,
            "cap_source": r.cap_source or None,
            "left_usd": None if r.left_usd is None else round(r.left_usd, 6),
        }
        for r in rows
    ]
