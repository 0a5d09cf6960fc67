"""The app's own webhook, as the app's JWT sees it: its config and its recent deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

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


def _numbered(request: Request, app: App) -> list[tuple[int, Delivery]]:
    """The app's finished attempts with their ids, newest first (as on GitHub, one still
    waiting for its answer is not listed yet)."""
    attempted = [
        (number, d)
        for number, d in enumerate(hub_of(request).deliveries, start=1)
        if d.app_id == app.id and d.duration_s is not None
    ]
    attempted.reverse()
    return attempted


async def hook_deliveries(request: Request) -> Response:
    """`GET /app/hook/deliveries`: newest first, `per_page` at a time; the `Link` header's
    `next` carries a `cursor` (the attempt id to continue below), as GitHub's does."""
    app = _calling_app(request)
    params = request.query_params
    try:
        per_page = max(1, min(100, int(params.get("per_page", DEFAULT_PER_PAGE))))
        below = int(params["cursor"].removeprefix("v1_")) if "cursor" in params else None
    except ValueError as exc:
        raise ApiError(400, "Invalid pagination parameters") from exc
    wanted = params.get("status")
    items = [
        delivery_item(number, d)
        for number, d in _numbered(request, app)
        if below is None or number < below
    ]
    if wanted in {"success", "failure"}:
        items = [i for i in items if (200 <= i["status_code"] < 300) == (wanted == "success")]
    page, rest = items[:per_page], items[per_page:]
    headers = {}
    if rest:
        query = urlencode({**dict(params), "per_page": per_page, "cursor": f"v1_{page[-1]['id']}"})
        headers["Link"] = f'<{hub_of(request).api_url}/app/hook/deliveries?{query}>; rel="next"'
    return json_response(request, page, headers=headers)


def _attempt(request: Request) -> tuple[int, Delivery]:
    app = _calling_app(request)
    wanted = int(request.path_params["delivery_id"])
    for number, delivery in _numbered(request, app):
        if number == wanted:
            return number, delivery
    raise ApiError(404, "Not Found")


async def hook_delivery(request: Request) -> Response:
    """`GET /app/hook/deliveries/{id}`: one attempt with its request and response."""
    number, delivery = _attempt(request)
    status, code = _status(delivery)
    body = {
        **delivery_item(number, delivery),
        "url": delivery.url,
        "request": {"headers": {"X-GitHub-Event": delivery.event}, "payload": delivery.payload},
        "response": {"headers": {}, "payload": None if code == 0 else status},
    }
    return json_response(request, body)


async def redeliver(request: Request) -> Response:
    """`POST /app/hook/deliveries/{id}/attempts`: the event sent again as a new attempt with
    the same guid (`X-GitHub-Delivery`), marked `redelivery`."""
    _number, delivery = _attempt(request)
    await hub_of(request).redeliver(delivery.id)
    return json_response(request, {}, status=202)


ROUTES = [
    Route("/app/hook/config", hook_config),
    Route("/app/hook/deliveries", hook_deliveries),
    Route("/app/hook/deliveries/{delivery_id:int}", hook_delivery),
    Route("/app/hook/deliveries/{delivery_id:int}/attempts", redeliver, methods=["POST"]),
]
