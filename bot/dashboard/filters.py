"""The runs list's filters, from the page's query string to a store query (pure)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.store.views import RunQuery

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.dashboard.session import Viewer

PAGE_SIZE = 25
FIELDS = ("repo", "agent", "status", "requester", "label", "since", "until")
STATUSES = tuple(s.value for s in RunStatus)
DAY_S = 86400.0
MAX_PAGE = 1_000_000


@dataclass(frozen=True, slots=True)
class Filters:
    """What the form shows back, the store query it means, and what could not be read."""

    values: dict[str, str]
    query: RunQuery
    page: int
    problems: tuple[str, ...]


def _day(text: str) -> float | None:
    """Midnight UTC of a `YYYY-MM-DD` date, or None when it is not one."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return float(calendar.timegm(day.timetuple()))


def parse(params: Mapping[str, str], viewer: Viewer) -> Filters:
    values = {name: params.get(name, "").strip() for name in FIELDS}
    problems: list[str] = []
    if values["status"] and values["status"] not in STATUSES:
        problems.append(f"status {values['status']!r} is not one of {', '.join(STATUSES)}")
        values["status"] = ""
    since = until = None
    if values["since"]:
        since = _day(values["since"])
        if since is None:
            problems.append(f"from {values['since']!r} is not a date (YYYY-MM-DD)")
    if values["until"]:
        day = _day(values["until"])
        if day is None:
            problems.append(f"to {values['until']!r} is not a date (YYYY-MM-DD)")
        else:
            until = day + DAY_S  # the whole day named is included
    try:
        # Bounded: an offset past a BIGINT fails the query instead of finding nothing.
        page = min(max(1, int(params.get("page", "1"))), MAX_PAGE)
    except ValueError:
        page = 1
    query = RunQuery(
        repos=viewer.repos,
        repo=values["repo"] or None,
        agent=values["agent"] or None,
        status=values["status"] or None,
        requester=values["requester"] or None,
        label=values["label"] or None,
        since=since,
        until=until,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return Filters(values=values, query=query, page=page, problems=tuple(problems))


def page_link(values: Mapping[str, str], page: int) -> str:
    """The list's URL with the same filters, on another page."""
    from urllib.parse import urlencode  # noqa: PLC0415 - only for links

    kept = {k: v for k, v in values.items() if v}
    return "/runs?" + urlencode({**kept, "page": page})
