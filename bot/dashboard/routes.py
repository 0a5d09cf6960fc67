"""The web pages `baton serve` adds beside its webhooks: the dashboard, signing in and out, its
one script, and `/metrics` for the operator (its token as a bearer, or its session)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.dashboard.auth import Auth
from bot.dashboard.session import session_key
from bot.dashboard.views import Dashboard
from bot.telemetry.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx
    from starlette.requests import Request

    from bot.runtime import Runtime
    from config.settings import Settings

STATIC = Path(__file__).parent / "static"


def web_routes(
    settings: Settings,
    runtime: Callable[[], Runtime],
    *,
    github_transport: httpx.AsyncBaseTransport | None = None,
) -> list[BaseRoute]:
    # The key is read from the App's private key at the first sign-in, not at import.
    key = functools.cache(lambda: session_key(settings))
    auth = Auth(settings=settings, key=key, transport=github_transport)
    dashboard = Dashboard(
        auth=auth,
        store=lambda: runtime().services.store,
        outbound=lambda: runtime().outbound,
        stats_window_s=settings.stats_window_days * 86400,
    )

    async def metrics(request: Request) -> Response:
        """Every repository's figures: the operator's alone (a person sees only their own)."""
        viewer = auth.viewer_of(request)
        if viewer is None:
            return PlainTextResponse(
                "sign in, or send the dashboard token as a bearer token\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="baton"'},
            )
        if not viewer.operator:
            return PlainTextResponse("/metrics is for the operator\n", status_code=403)
        rt = runtime()
        body = await rt.metrics.render(rt.services.store, rt.queue)
        return Response(body, media_type=CONTENT_TYPE)

    return [
        *auth.routes(),
        *dashboard.routes(),
        Route("/metrics", metrics, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
