"""The App's webhook deliveries as GitHub recorded them (`GET /app/hook/deliveries`, paged by
cursor, newest first) and redelivery (`POST /app/hook/deliveries/{id}/attempts`), with the
App's JWT. Each attempt has its own numeric `id`; a redelivery keeps the delivery's `guid`
(its `X-GitHub-Delivery`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from githubkit.utils import UNSET

from bot.gh.calls import call, read_json
from bot.gh.errors import GitHubError

if TYPE_CHECKING:
    from githubkit import Response

    from bot.gh.app import GitHubApp

PAGE = 100
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass(frozen=True, slots=True, kw_only=True)
class HookDelivery:
    """One attempt at delivering one event."""

    id: int
    guid: str
    delivered_at: float  # epoch seconds
    redelivery: bool
    status_code: int  # 0: no HTTP answer came back (the server was unreachable)
    status: str
    event: str
    action: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def what(self) -> str:
        return f"{self.event}.{self.action}" if self.action else self.event

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> HookDelivery:
        when = str(item.get("delivered_at") or "1970-01-01T00:00:00Z").replace("Z", "+00:00")
        action = item.get("action")
        return cls(
            id=int(item["id"]),
            guid=str(item.get("guid", "")),
            delivered_at=datetime.fromisoformat(when).timestamp(),
            redelivery=bool(item.get("redelivery")),
            status_code=int(item.get("status_code") or 0),
            status=str(item.get("status", "")),
            event=str(item.get("event", "")),
            action=str(action) if action else None,
        )


def _next_cursor(resp: Response[Any, Any]) -> str | None:
    match = _NEXT.search(resp.headers.get("link", ""))
    if match is None:
        return None
    cursors = parse_qs(urlsplit(match.group(1)).query).get("cursor")
    return cursors[0] if cursors else None


async def _page(app: GitHubApp, per_page: int, cursor: str | None) -> Response[Any, Any]:
    return await call(
        "list the App's webhook deliveries",
        lambda: app.app_client.rest.apps.async_list_webhook_deliveries(
            per_page=per_page, cursor=cursor if cursor is not None else UNSET
        ),
    )


async def deliveries(
    app: GitHubApp, *, since: float = 0.0, limit: int | None = None
) -> list[HookDelivery]:
    """Attempts newest first, back to `since` (epoch seconds) or `limit` of them."""
    out: list[HookDelivery] = []
    cursor: str | None = None
    while True:
        per_page = PAGE if limit is None else max(1, min(PAGE, limit - len(out)))
        resp = await _page(app, per_page, cursor)
        try:
            page = [HookDelivery.from_json(i) for i in read_json(resp)]
        except (KeyError, TypeError, ValueError) as exc:
            raise GitHubError(
                f"list the App's webhook deliveries: unreadable answer: {exc}"
            ) from exc
        for item in page:
            if item.delivered_at < since or (limit is not None and len(out) >= limit):
                return out
            out.append(item)
        cursor = _next_cursor(resp)
        if cursor is None or not page:
            return out


async def redeliver(app: GitHubApp, delivery_id: int) -> None:
    """Ask GitHub to send attempt `delivery_id`'s event again (same guid, a new attempt)."""
    await call(
        f"redeliver delivery {delivery_id}",
        lambda: app.app_client.rest.apps.async_redeliver_webhook_delivery(delivery_id),
    )
