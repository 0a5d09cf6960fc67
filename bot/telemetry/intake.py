"""The webhook endpoint as telemetry sees it: each delivery counted by event and by what intake
did with it, and, when traces are on, the intake span of a delivery that queued work."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from bot.telemetry.metrics import Metrics
    from bot.telemetry.tracing import Tracing

# What a 202's body says intake did, by its first bytes (bot/webhooks.py writes them).
_ACCEPTED = ((b'{"queued"', "queued"), (b'{"ignored"', "ignored"), (b'{"duplicate"', "duplicate"))
_REFUSED = {401: "bad_signature", 413: "too_large", 400: "malformed", 415: "wrong_content_type"}


def outcome(response: Response) -> str:
    if response.status_code == 200:
        return "ping"
    if response.status_code == 202:
        body = bytes(response.body)
        return next((name for prefix, name in _ACCEPTED if body.startswith(prefix)), "accepted")
    return _REFUSED.get(response.status_code, f"http_{response.status_code}")


async def observed(
    request: Request,
    handle: Callable[[Request], Awaitable[Response]],
    *,
    metrics: Metrics,
    tracing: Tracing | None,
) -> Response:
    start_ns = time.time_ns()
    response = await handle(request)
    result = outcome(response)
    # An unsigned request may name any event: it is counted without its (untrusted) name.
    verified = response.status_code in (200, 202)
    event = request.headers.get("x-github-event", "") if verified else "unverified"
    metrics.delivery(event or "none", result)
    delivery = request.headers.get("x-github-delivery", "")
    if tracing is not None and result == "queued" and delivery:
        tracing.intake(delivery_id=delivery, event=event, start_ns=start_ns, outcome=result)
    return response
