"""`create_localhub`: the emulator as a Starlette app (REST at /api/v3, git at /{owner}/{repo})."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount

from bot.localhub import (
    admin,
    forks,
    githttp,
    protection,
    revert,
    routes_app,
    routes_checks,
    routes_comments,
    routes_commits,
    routes_graphql,
    routes_hook,
    routes_issues,
    routes_merge,
    routes_oauth,
    routes_pulls,
    routes_repos,
    web_apps,
    web_repos,
)
from bot.localhub.http import API_PREFIX, ApiError, ApiMiddleware, on_api_error, on_http_exception
from bot.localhub.hub import DEFAULT_RATE_LIMIT, Hub

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import httpx


def create_localhub(
    *,
    data_dir: Path,
    webhook_secret: bytes | None,
    public_url: str = "",
    token_ttl_s: float = 3600.0,
    rate_limit: int = DEFAULT_RATE_LIMIT,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The emulator; its state is `app.state.hub`. Repositories live under `data_dir`.

    `public_url` (set later with `hub.set_public_url` once the port is known) is the base of
    every URL in responses and payloads; `webhook_transport` lets tests deliver in-process.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    hub = Hub(
        data_dir=data_dir,
        webhook_secret=webhook_secret,
        public_url=public_url,
        token_ttl_s=token_ttl_s,
        rate_limit=rate_limit,
        webhook_transport=webhook_transport,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        hub.dispatcher.bind(asyncio.get_running_loop())
        try:
            yield
        finally:
            await hub.dispatcher.aclose()

    api = [
        *routes_app.ROUTES,
        *routes_hook.ROUTES,
        *routes_repos.ROUTES,
        *routes_issues.ROUTES,
        *routes_comments.ROUTES,
        *routes_pulls.ROUTES,
        *forks.ROUTES,
        *routes_merge.ROUTES,
        *routes_checks.ROUTES,
        *routes_commits.ROUTES,
        *protection.ROUTES,
        *web_apps.API_ROUTES,
        *routes_oauth.API_ROUTES,
    ]
    app = Starlette(
        routes=[
            Mount(API_PREFIX, routes=api),
            *routes_graphql.ROUTES,
            *admin.ROUTES,
            *revert.ADMIN_ROUTES,
            *web_apps.ROUTES,
            *routes_oauth.WEB_ROUTES,
            *githttp.ROUTES,
            # Last: `/{owner}/{repo}` would take any two-part path listed after it.
            *web_repos.ROUTES,
        ],
        middleware=[Middleware(ApiMiddleware, hub=hub)],
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_exception},
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app
