"""The ASGI app: `POST /webhooks`, `GET /healthz`, `/readyz` and the dashboard, with the runtime
(`bot.runtime`) in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.catchup import CatchUp
from bot.dashboard.routes import web_routes
from bot.gh.user import web_url
from bot.queue import JobStatus
from bot.runtime import Runtime
from bot.store.db import StoreError
from bot.telemetry.intake import observed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

    from config.settings import Settings

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 0.8


def create_app(settings: Settings, **runtime_options: Any) -> Starlette:
    """The app for `baton serve`. Nothing happens until the lifespan starts: no import-time I/O,
    and no GitHub call at startup (an unreachable GitHub shows in the first run)."""
    settings.require_server()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = Runtime(settings, works=settings.worker == "inline", **runtime_options)
        app.state.runtime = runtime
        await runtime.start()
        log.info("Baton's runtime is up: queue and store open")
        # Deliveries that never reached this server (it was down) are asked for again.
        catch_up = CatchUp(
            github=runtime.github,
            store=runtime.services.store,
            interval_s=settings.redeliver_interval_s,
        )
        catch_up.start()
        try:
            yield
        finally:
            await catch_up.stop()
            await runtime.stop()

    async def webhooks(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        handle = runtime.endpoint.handle
        return await observed(request, handle, metrics=runtime.metrics, tracing=runtime.tracing)

    async def healthz(request: Request) -> Response:
        """The process is up: cheap, two counts (no job is loaded)."""
        runtime: Runtime = request.app.state.runtime
        queued = await runtime.queue.count(status=JobStatus.QUEUED)
        running = await runtime.queue.count(status=JobStatus.RUNNING)
        return JSONResponse({"ok": True, "queued": queued, "running": running})

    async def readyz(request: Request) -> Response:
        """Ready for traffic (load balancers, Kubernetes probes): 200 only when the database
        answers and its schema is the one this Baton knows."""
        runtime: Runtime = request.app.state.runtime
        try:
            # Probes time out at a second or so: a database that takes longer is not there.
            async with asyncio.timeout(READY_TIMEOUT_S):
                current = await runtime.services.store.schema_current()
        except StoreError as exc:
            return JSONResponse({"ready": False, "reason": str(exc)}, status_code=503)
        except TimeoutError:
            reason = f"the database does not answer within {READY_TIMEOUT_S:.1f}s"
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        if not current:
            reason = "the database schema is not this Baton's: run `baton db upgrade`"
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        return JSONResponse({"ready": True})

    app = Starlette(
        routes=[
            Route("/webhooks", webhooks, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *web_routes(
                settings,
                lambda: app.state.runtime,
                github_transport=runtime_options.get("github_transport"),
            ),
        ],
        lifespan=lifespan,
    )
    app.state.github_web = web_url(settings.github_url)
    return app
