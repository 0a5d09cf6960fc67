"""Monthly spend, counted one way: UTC calendar months, with the clock passed in."""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING

from bot.budget import Spend

if TYPE_CHECKING:
    from bot.store.base import Store


def month_bounds(now: float) -> tuple[float, float]:
    """`[start, end)` in epoch seconds of the UTC calendar month holding `now`: a run at
    Jan 31 23:59:59.9 UTC counts in January, one at Feb 1 00:00:00 in February."""
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    start = calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0))
    end = calendar.timegm((year, month, 1, 0, 0, 0))
    return float(start), float(end)


async def monthly_spend(
    store: Store, *, repo: str, owner: str, requester: str, now: float
) -> Spend:
    """What the repo, its owner (org or user) and the requester spent in `now`'s month."""
    since, until = month_bounds(now)
    return Spend(
        repo_month=await store.spend(since=since, until=until, repo=repo),
        owner_month=await store.spend(since=since, until=until, owner=owner),
        requester_month=await store.spend(since=since, until=until, requester=requester),
    )
