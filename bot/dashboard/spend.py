"""Spend as the dashboard shows it: per agent, per repository, per month, and the budgets with
what is left, from the runs a viewer may see (pure: rows in, figures out)."""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.store.spend import month_bounds

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from bot.dashboard.session import Viewer
    from bot.store.base import BudgetCap
    from bot.store.views import SpendRow

MONTHS_SHOWN = 12


@dataclass(frozen=True, slots=True)
class SpendSummary:
    total_usd: float
    runs: int
    unknown: int  # runs whose cost is unknown (never counted as zero)
    by_source: dict[str, float]  # reported / priced
    by_agent: list[tuple[str, float]]
    by_repo: list[tuple[str, float]]
    by_month: list[tuple[str, float]]  # oldest first, the last MONTHS_SHOWN months


@dataclass(frozen=True, slots=True)
class BudgetLine:
    scope: str  # "acme/app", "acme (org)", "ann (requester)"
    kind: str  # the cap's scope: repo, org or requester
    limit_usd: float
    spent_usd: float
    source: str  # which layer of the config set it

    @property
    def left_usd(self) -> float:
        return max(0.0, self.limit_usd - self.spent_usd)

    @property
    def used_fraction(self) -> float:
        return min(1.0, self.spent_usd / self.limit_usd) if self.limit_usd > 0 else 1.0


def month_label(epoch: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(epoch))


def last_months(now: float, count: int = MONTHS_SHOWN) -> list[str]:
    """`YYYY-MM` of the `count` UTC months up to and including `now`'s, oldest first."""
    t = time.gmtime(now)
    year, month = t.tm_year, t.tm_mon
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def months_ago_start(now: float, count: int = MONTHS_SHOWN) -> float:
    first = last_months(now, count)[0]
    year, month = (int(p) for p in first.split("-"))
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))


def _sum_by(rows: Iterable[SpendRow], key: str) -> list[tuple[str, float]]:
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        if row.cost_usd is not None:
            totals[getattr(row, key) or "(no agent)"] += row.cost_usd
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def summarise(rows: Sequence[SpendRow], *, now: float) -> SpendSummary:
    known = [r for r in rows if r.cost_usd is not None]
    by_source: dict[str, float] = defaultdict(float)
    months = dict.fromkeys(last_months(now), 0.0)
    for row in known:
        assert row.cost_usd is not None
        by_source[row.cost_source] += row.cost_usd
        label = month_label(row.created_at)
        if label in months:
            months[label] += row.cost_usd
    return SpendSummary(
        total_usd=sum(r.cost_usd or 0.0 for r in known),
        runs=len(rows),
        unknown=len(rows) - len(known),
        by_source=dict(by_source),
        by_agent=_sum_by(rows, "agent"),
        by_repo=_sum_by(rows, "repo"),
        by_month=list(months.items()),
    )


def budget_lines(
    caps: Sequence[BudgetCap], rows: Sequence[SpendRow], *, now: float, viewer: Viewer
) -> list[BudgetLine]:
    """Each monthly cap the viewer may see against this UTC month's spend: their repositories'
    caps, their own as a requester, and (for the operator, who sees every repository) the orgs'.
    A cap is as the last run under it read it from the config."""
    since, until = month_bounds(now)
    month = [r for r in rows if since <= r.created_at < until and r.cost_usd is not None]
    out: list[BudgetLine] = []
    for cap in sorted(caps, key=lambda c: (c.scope, c.name)):
        if cap.limit_usd is None:
            continue
        if cap.scope == "repo" and viewer.sees(cap.name):
            spent = [r for r in month if r.repo == cap.name]
            scope = cap.name
        elif cap.scope == "org" and viewer.operator:
            spent = [r for r in month if r.repo.startswith(f"{cap.name}/")]
            scope = f"{cap.name} (org)"
        elif cap.scope == "requester" and (viewer.operator or cap.name == viewer.login):
            spent = [r for r in month if r.requester == cap.name]
            scope = f"{cap.name} (requester)"
        else:
            continue
        total = sum(r.cost_usd or 0.0 for r in spent)
        out.append(
            BudgetLine(
                scope=scope,
                kind=cap.scope,
                limit_usd=cap.limit_usd,
                spent_usd=total,
                source=cap.source,
            )
        )
    return out
