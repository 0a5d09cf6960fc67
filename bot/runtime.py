"""What a Baton process runs on: queue, store, GitHub client, telemetry and the job handlers,
built and torn down around `baton serve` (in its lifespan) or `baton worker`. The web app is
`bot.app`; a worker process never loads it (nor the dashboard's templates and metrics)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from typing import TYPE_CHECKING

import httpx

from adapters.base import Resources
from adapters.runner import runner_for
from bot import maintenance, offboard, workspaces
from bot.backends import backend_for
from bot.control import ack_job, control_job
from bot.github import GitHubApp
from bot.intake import intake_router
from bot.outbound import MaskingFilter, Outbound, server_secrets
from bot.pulljob import pull_job
from bot.pullnote import PULL_TASK
from bot.queue import JobContext
from bot.run import Services, run_job
from bot.telemetry.observer import FailureCounter, Observers, RunObserver
from bot.telemetry.tally import Tally
from bot.telemetry.tracing import tracing_from
from bot.telemetry.transport import MeteredTransport
from bot.webhooks import WebhookEndpoint
from config.guard import Operator

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.runner import Runner
    from bot.telemetry.metrics import Metrics
    from config.settings import Settings

log = logging.getLogger(__name__)


class Runtime:
    """What the lifespan builds and tears down; reachable as `app.state.runtime`."""

    def __init__(
        self,
        settings: Settings,
        *,
        github_transport: httpx.AsyncBaseTransport | None = None,
        server_env: Mapping[str, str] | None = None,
        github_auto_retry: bool = True,
        works: bool = True,
        runner: Runner | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock  # budgets' months and reservations (a test's own, in tests)
        # False for a web process whose jobs a `baton worker` process runs: it only submits.
        self.works = works
        # Where agents run: from `BATON_SANDBOX`, unless a test hands in its own (a FakeRunner).
        self._runner = runner or runner_for(settings.sandbox)
        # The queue works at once (submits); the store opens in `start`.
        self.backend = backend_for(settings)
        self.queue = self.backend.queue
        env = dict(os.environ if server_env is None else server_env)
        self._env = env
        self.outbound = Outbound(server_secrets(settings, env))
        self._mask = MaskingFilter(self.outbound)
        # Telemetry: counts this process flushes to the store, `/metrics` (served by the web
        # process), and traces when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        self.tally = Tally()
        self.tracing = tracing_from(env)
        observers: list[RunObserver] = [FailureCounter(self.tally)]
        if self.tracing is not None:
            observers.append(self.tracing)
        self._observer = Observers(observers)
        # One transport for every GitHub client, so every call is counted; githubkit closes a
        # client's transport with the client, so the meter's close leaves this one open.
        self._github_transport = github_transport or httpx.AsyncHTTPTransport(
            verify=httpx.create_ssl_context()
        )
        self._flusher: asyncio.Task[None] | None = None
        metered = MeteredTransport(self._github_transport, self.tally)
        self.github = GitHubApp(
            outbound=self.outbound,
            app_id=settings.app_id or "",
            private_key=settings.private_key_pem(),
            base_url=settings.github_url,
            auto_retry=github_auto_retry,
            transport=metered,
            transport_for=metered.for_installation,
        )
        self._services: Services | None = None  # built by `start`, with the store
        self.queue.register("run", self._run)
        self.queue.register("control", self._control)
        self.queue.register("ack", self._ack)
        self.queue.register(PULL_TASK, self._pull)
        self.queue.register(maintenance.CLEANUP_TASK, self._cleanup)
        self.queue.register(offboard.TASK, self._offboard)
        self._maintenance: asyncio.Task[None] | None = None
        self.endpoint = WebhookEndpoint(
            settings=settings, router=intake_router(), queue=self.queue,
            max_attempts=settings.job_max_attempts,
        )  # fmt: skip

    @functools.cached_property
    def metrics(self) -> Metrics:
        """`/metrics`' collector: made when the web process first serves it (or a delivery)."""
        from bot.telemetry.metrics import Metrics  # noqa: PLC0415 - web process only

        return Metrics()

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the runtime has not started")
        return self._services

    async def _run(self, ctx: JobContext) -> None:
        if self.tracing is None:
            await run_job(self.services, ctx)
            return
        job = await self.queue.get(ctx.job_id)
        args = ctx.args
        with self.tracing.run(
            delivery_id=str(args.get("delivery_id", "")),
            job_id=ctx.job_id,
            attempt=ctx.attempt,
            repo=str(args.get("repo", "")),
            number=int(args.get("number", 0)),
            queued_at=job.created_at if job is not None else 0.0,
        ):
            await run_job(self.services, ctx)

    async def _control(self, ctx: JobContext) -> None:
        await control_job(self.services, self.queue, ctx)

    async def _ack(self, ctx: JobContext) -> None:
        await ack_job(self.services, self.queue, ctx)

    async def _pull(self, ctx: JobContext) -> None:
        await pull_job(self.services, ctx)

    async def _offboard(self, ctx: JobContext) -> None:
        await offboard.offboard_job(self.services, self.queue, ctx)

    async def _cleanup(self, ctx: JobContext) -> None:
        del ctx
        s = self.services
        await maintenance.cleanup(settings=s.settings, store=s.store, queue=self.queue)

    async def start(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.addFilter(self._mask)
        settings = self.settings
        resources = Resources(
            processes=settings.run_max_processes,
            memory_bytes=int(settings.run_max_memory),
            disk_bytes=int(settings.run_max_disk),
        )
        self._services = Services(
            settings=settings,
            github=self.github,
            store=await self.backend.open_store(),
            workspaces=workspaces.Workspaces(root=settings.workdir.resolve(), resources=resources),
            server_env=self._env,
            operator=Operator.from_settings(settings, self._env),
            outbound=self.outbound,
            runner=self._runner,
            clock=self._clock,
            observer=self._observer,
            queue=self.queue,
        )
        self._flusher = asyncio.create_task(self.tally.flush_every(self._services.store))
        if self.works:
            # Areas a worker that died (kill -9, power loss) left mounted go before any job runs.
            await self._services.workspaces.sweep()
            await self.queue.start()
            self._maintenance = asyncio.create_task(
                maintenance.loop(self._services, self.queue), name="baton-maintenance"
            )

    async def stop(self, *, grace_s: float = 0.0) -> None:
        """Stop working: running jobs may finish for `grace_s` seconds (a worker's SIGTERM), the
        rest go back to the queue."""
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        if self.works:
            await self.queue.stop(grace_s=grace_s)
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)
        await self._github_transport.aclose()
        if self._services is not None:
            await self._services.workspaces.close()
            await self._services.store.close()
        await self.backend.close()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self._mask)
