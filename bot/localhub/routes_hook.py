"""The app's own webhook, as the app's JWT sees it: its config and its recent deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from bot.localhub.http import ApiError, hub_of, json_response, principal
from bot.localhub.state import iso

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from bot.localhub.state import App
    from bot.localhub.webhooks import Delivery

DEFAULT_PER_PAGE = 30


def _calling_app(request: Request) -> App:
    who = principal(request)
    if who.kind != "app" or who.app_id is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    return hub_of(request).apps[who.app_id]


async def hook_config(request: Request) -> Response:
    """`GET /app/hook/config` (GitHub shows a set secret as asterisks; it is left out here)."""
    app = _calling_app(request)
    body = {"content_type": "json", "insecure_ssl": "0", "url": app.webhook_url or ""}
    return json_response(request, body)


def _status(delivery: Delivery) -> tuple[str, int]:
    """GitHub's `status` text and `status_code` (0 when no HTTP answer came back)."""
    code = delivery.status_code
    if code is None:
        return ("failed to connect to host" if delivery.error else "pending", 0)
    return ("OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}", code)


def delivery_item(number: int, delivery: Delivery) -> dict[str, Any]:
    """One `hook-delivery-item`: `id` is the delivery's number, `guid` its X-GitHub-Delivery."""
    status, code = _status(delivery)
    installation = delivery.payload.get("installation")
    repository = delivery.payload.get("repository")
    return {
        "id": number,
        "guid": delivery.id,
        "delivered_at": iso(delivery.sent_at or 0.0),
        "redelivery": delivery.redelivery,
        "duration": round(delivery.duration_s or 0.0, 3),
        "status": status,
        "status_code": code,
        "event": delivery.event,
        "action": delivery.action,
        "installation_id": installation.get("id") if isinstance(installation, dict) else None,
        "repository_id": repository.get("id") if isinstance(repository, dict) else None,
        "throttled_at": None,
    }


async def hook_deliveries(request: Request) -> Response:
    """`GET /app/hook/deliveries`: newest first, `per_page` of them (GitHub pages by cursor;
    the emulator's history is short enough that the first page is all a client reads)."""
    app = _calling_app(request)
    try:
        per_page = max(1, min(100, int(request.query_params.get("per_page", DEFAULT_PER_PAGE))))
    except ValueError as exc:
        raise ApiError(400, "Invalid pagination parameters") from exc
    wanted = request.query_params.get("status")
    items = [
        delivery_item(number, d)
        for number, d in enumerate(hub_of(request).deliveries, start=1)
        if d.app_id == app.id and d.sent_at is not None
    ]
    if wanted in {"success", "failure"}:
        items = [i for i in items if (200 <= i["status_code"] < 300) == (wanted == "success")]
    items.reverse()
    return json_response(request, items[:per_page])


ROUTES = [
    Route("/app/hook/config", hook_config),
    Route("/app/hook/deliveries", hook_deliveries),
]
