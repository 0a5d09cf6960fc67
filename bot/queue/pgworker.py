"""The worker of the PostgreSQL queue: claims jobs with procrastinate, runs their handlers on this
event loop, records each outcome, beats its heart, and takes back the jobs of dead workers.

Not procrastinate's own `Worker`, for reasons read in its code (3.10): it stops beating its
heart while it waits for running jobs to finish at shutdown, so a grace longer than the stall
bound would let another worker start the same run; a database away for a moment ends it (its
heartbeat and listener are side tasks whose failure stops the worker); and it has no per-job
attempt budget, no attempt refunded at shutdown, no failure text. This one is built on
procrastinate's tables, SQL functions, triggers and job manager (fetch in per-lock order, abort
flags and their NOTIFY, worker heartbeats), so a job behaves as procrastinate defines it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg_pool
from procrastinate import exceptions as pexc
from procrastinate.manager import JobManager

from bot.queue import postgres_sql as sql
from bot.queue.base import (
    CANCEL_REQUESTED,
    SHUTTING_DOWN,
    JobContext,
    JobHandler,
    JobStatus,
    RetryLater,
    WaitTurn,
)
from bot.queue.policy import Ending, Outcome, decide
from bot.store.errors import StoreUnavailable
from bot.store.pgpool import Connection, Pool, connection, conninfo

if TYPE_CHECKING:
    from procrastinate.jobs import Job

logger = logging.getLogger(__name__)

# What the database being away looks like from here, whichever layer noticed.
DB_DOWN = (
    StoreUnavailable,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    pexc.ConnectorException,
)
_RECORD_RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)
_LISTEN_CHECK_S = 30.0
# At shutdown an outcome that cannot be recorded is left to the heartbeat bound.
_STOP_RECORD_WAIT_S = 10.0


@dataclass(frozen=True, kw_only=True)
class Timing:
    """The heartbeat bound and what follows from it. A worker silent for `dead_after_s` is
    presumed dead; reapers look every `reap_every_s`; so a dead worker's jobs are taken back
    within `recovery_s` (their sum, with the beat's own period to spare)."""

    recovery_s: float = 60.0
    poll_s: float = 1.0

    @property
    def beat_every_s(self) -> float:
        return self.recovery_s / 12

    @property
    def dead_after_s(self) -> float:
        return self.recovery_s * 2 / 3

    @property
    def reap_every_s(self) -> float:
        return self.recovery_s / 6


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job this worker took, with the worker id it took it under (its fence)."""

    job: Job
    worker_id: int
    context: JobContext

    @property
    def id(self) -> int:
        return self.context.job_id


@dataclass(frozen=True, kw_only=True)
class Policy:
    retry_base_s: float
    retry_max_s: float
    rand: Callable[[], float]


def context_of(job: Job) -> JobContext:
    kwargs: dict[str, Any] = dict(job.task_kwargs)
    assert job.id is not None
    return JobContext(
        job_id=job.id,
        attempt=job.attempts + 1,
        max_attempts=int(kwargs.get("max_attempts", 1)),
        args=dict(kwargs.get("args") or {}),
    )


class PgWorker:
    """Works the `baton` queue of procrastinate's tables on this event loop."""

    def __init__(
        self,
        *,
        pool: Pool,
        jobs: JobManager,
        handlers: dict[str, JobHandler],
        concurrency: int,
        policy: Policy,
        timing: Timing,
        progress: asyncio.Event,
    ) -> None:
        self._pool = pool
        self._jobs = jobs
        self._handlers = handlers
        self._concurrency = concurrency
        self._policy = policy
        self._timing = timing
        self._progress = progress  # set whenever a job ends: waiters look again
        self._running: dict[int, asyncio.Task[tuple[Ending, str | None, float | None]]] = {}
        self._settling: set[asyncio.Task[None]] = set()
        self._cancel_requested: set[int] = set()
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._fetcher: asyncio.Task[None] | None = None
        self._worker_id: int | None = None
        self._stopping = False
        self._healthy_since: float | None = None  # monotonic; None while the database is away
        self._last_beat = time.monotonic()

    @property
    def busy(self) -> bool:
        return bool(self._running or self._settling)

    def running_ids(self) -> set[int]:
        return set(self._running)

    async def start(self) -> None:
        self._worker_id = await self._register()
        now = time.monotonic()
        self._healthy_since = self._last_beat = now
        self._fetcher = asyncio.create_task(self._fetch_loop(), name="baton-pg-fetch")
        self._loops = [
            asyncio.create_task(self._beat_loop(), name="baton-pg-heartbeat"),
            asyncio.create_task(self._listen_loop(), name="baton-pg-listen"),
            asyncio.create_task(self._abort_loop(), name="baton-pg-aborts"),
            asyncio.create_task(self._reap_loop(), name="baton-pg-reaper"),
        ]
        logger.info(
            "worker %d is taking jobs (up to %d at once)", self._worker_id, self._concurrency
        )

    async def stop(self, grace_s: float) -> None:
        self._stopping = True
        if self._fetcher is not None:
            # Cancelled before any await: nothing is claimed once `stop` began.
            self._fetcher.cancel(SHUTTING_DOWN)
        if grace_s > 0 and self._running:
            logger.info("waiting up to %.0fs for %d running jobs", grace_s, len(self._running))
            await asyncio.wait(set(self._running.values()), timeout=grace_s)
        for task in list(self._running.values()):
            task.cancel(SHUTTING_DOWN)
        # The heartbeat goes on until every outcome is recorded (or given up on).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_STOP_RECORD_WAIT_S + 5):
                while self._running or self._settling:
                    await asyncio.gather(
                        *self._running.values(), *self._settling, return_exceptions=True
                    )
        for loop in [*self._loops, *([self._fetcher] if self._fetcher else [])]:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._fetcher is not None:
            await asyncio.gather(self._fetcher, return_exceptions=True)
        if self._worker_id is not None:
            try:
                await self._jobs.unregister_worker(self._worker_id)
            except DB_DOWN as exc:
                logger.warning("could not unregister worker %d: %s", self._worker_id, exc)

    def abort_local(self, job_id: int) -> bool:
        """Cancel a job running here as a user's cancel; False if it is not running here."""
        task = self._running.get(job_id)
        if task is None or task.done():
            return False
        if job_id not in self._cancel_requested:
            self._cancel_requested.add(job_id)
            logger.info("job %d: cancel requested, stopping its handler", job_id)
            task.cancel(CANCEL_REQUESTED)
        return True

    async def wait_local(self, job_id: int) -> None:
        """Return once the job is no longer running here (its outcome recorded)."""
        while job_id in self._running:
            self._progress.clear()
            if job_id not in self._running:
                return
            await self._progress.wait()

    # ------------------------------------------------------------------ claiming

    async def _register(self) -> int:
        return await self._jobs.register_worker()

    async def _fetch_loop(self) -> None:
        outage = False
        while not self._stopping:
            self._wake.clear()
            try:
                if self._healthy_since is not None:
                    await self._claim_due()
                if outage:
                    logger.info("job queue: the database answers again")
                outage = False
            except DB_DOWN as exc:
                if not outage:
                    logger.warning("job queue: the database does not answer (%s); waiting", exc)
                outage = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._timing.poll_s):
                    await self._wake.wait()

    async def _claim_due(self) -> None:
        while len(self._running) < self._concurrency and not self._stopping:
            worker_id = self._worker_id
            assert worker_id is not None
            job = await self._jobs.fetch_job(queues=[sql.QUEUE], worker_id=worker_id)
            if job is None or self._stopping:
                if job is not None:
                    # Claimed as `stop` began: handed straight back, untouched.
                    claimed = Claimed(job=job, worker_id=worker_id, context=context_of(job))
                    await self._settle(claimed, Ending.CANCELLED)
                return
            self._spawn(Claimed(job=job, worker_id=worker_id, context=context_of(job)))

    def _spawn(self, claimed: Claimed) -> None:
        handler = self._handlers.get(claimed.job.task_name)
        task = asyncio.create_task(self._attempt(handler, claimed), name=f"job-{claimed.id}")
        task.add_done_callback(functools.partial(self._ended, claimed=claimed))
        self._running[claimed.id] = task

    async def _attempt(
        self, handler: JobHandler | None, claimed: Claimed
    ) -> tuple[Ending, str | None, float | None]:
        ctx = claimed.context
        task = claimed.job.task_name
        if handler is None:
            logger.error("job %d: no handler registered for task %r", ctx.job_id, task)
            return Ending.RAISED, f"unknown task {task}", None
        logger.info(
            "job %d (%s): attempt %d/%d started", ctx.job_id, task, ctx.attempt, ctx.max_attempts
        )
        try:
            await handler(ctx)
        except asyncio.CancelledError:
            return Ending.CANCELLED, None, None
        except RetryLater as exc:
            return Ending.RETRY_LATER, exc.reason, exc.delay_s
        except WaitTurn as exc:
            return Ending.WAIT, exc.reason, exc.delay_s
        except Exception as exc:
            # The handler's outermost boundary: any error fails this job, never the worker.
            logger.exception("job %d (%s): handler raised", ctx.job_id, task)
            return Ending.RAISED, f"{type(exc).__name__}: {exc}", None
        return Ending.RETURNED, None, None

    def _ended(
        self, task: asyncio.Task[tuple[Ending, str | None, float | None]], *, claimed: Claimed
    ) -> None:
        # A task cancelled before its first step never ran its handler: a shutdown's requeue.
        ending, reason, delay = (
            (Ending.CANCELLED, None, None) if task.cancelled() else task.result()
        )
        settling = asyncio.create_task(self._settle(claimed, ending, reason=reason, delay=delay))
        self._settling.add(settling)
        settling.add_done_callback(self._settling.discard)

    # ------------------------------------------------------------------ recording outcomes

    async def _settle(
        self,
        claimed: Claimed,
        ending: Ending,
        *,
        reason: str | None = None,
        delay: float | None = None,
    ) -> None:
        started = time.monotonic()
        try:
            for pause in (*_RECORD_RETRY_S, *([_RECORD_RETRY_S[-1]] * 10_000)):
                try:
                    await self._record(claimed, ending, reason=reason, delay=delay)
                    return
                except DB_DOWN as exc:
                    waited = time.monotonic() - started
                    if self._stopping and waited > _STOP_RECORD_WAIT_S:
                        logger.warning(
                            "job %d: outcome not recorded (%s); the heartbeat bound will take "
                            "it back",
                            claimed.id,
                            exc,
                        )
                        return
                    await asyncio.sleep(pause)
        finally:
            self._running.pop(claimed.id, None)
            self._cancel_requested.discard(claimed.id)
            self._wake.set()  # a concurrency slot is free
            self._progress.set()

    async def _record(
        self, claimed: Claimed, ending: Ending, *, reason: str | None, delay: float | None
    ) -> None:
        ctx = claimed.context
        conn: Connection
        async with connection(self._pool) as conn, conn.transaction():
            row = await (
                await conn.execute(sql.MINE_FOR_UPDATE, (ctx.job_id, claimed.worker_id))
            ).fetchone()
            if row is None:
                logger.warning(
                    "job %d was taken back from this worker (it was presumed dead); "
                    "its outcome here is dropped",
                    ctx.job_id,
                )
                return
            _attempts, abort_requested, key = row
            # A cancel asked of the database wins, unless the handler had already finished.
            cancelled = ctx.job_id in self._cancel_requested or (
                bool(abort_requested) and ending is not Ending.RETURNED
            )
            outcome = decide(
                ending,
                reason=reason,
                requested_delay_s=delay,
                cancel_requested=cancelled,
                attempt=ctx.attempt,
                max_attempts=ctx.max_attempts,
                base_s=self._policy.retry_base_s,
                max_s=self._policy.retry_max_s,
                rand=self._policy.rand,
            )
            await apply_outcome(conn, ctx.job_id, outcome, key=key)
        logger.info("job %d %s", ctx.job_id, _described(outcome))

    # ------------------------------------------------------------------ heartbeat and aborts

    async def _beat_loop(self) -> None:
        fenced = False
        while True:
            await asyncio.sleep(self._timing.beat_every_s)
            now = time.monotonic()
            try:
                async with connection(self._pool) as conn:
                    row = await (await conn.execute(sql.HEARTBEAT, (self._worker_id,))).fetchone()
                if row is None:
                    # Pruned: the others presumed this worker dead and took its jobs back.
                    logger.warning("this worker was presumed dead; registering again")
                    self._fence("taken back while this worker was presumed dead")
                    self._worker_id = await self._register()
                if self._healthy_since is None:
                    self._healthy_since = now
                self._last_beat = now
                fenced = False
            except DB_DOWN as exc:
                self._healthy_since = None
                if not fenced and now - self._last_beat > self._timing.dead_after_s:
                    # Others may take these jobs back now: stop them here first.
                    logger.warning("heartbeat failing for %.0fs (%s)", now - self._last_beat, exc)
                    self._fence("the database was away longer than the heartbeat bound")
                    fenced = True

    def _fence(self, why: str) -> None:
        for job_id, task in list(self._running.items()):
            if not task.done():
                logger.warning("job %d stopped here: %s", job_id, why)
                task.cancel(SHUTTING_DOWN)

    async def _listen_loop(self) -> None:
        """LISTEN on procrastinate's channel for this queue: new jobs and abort requests.

        Its own loop rather than procrastinate's `listen_for_jobs`, whose per-notification
        `wait_for` can swallow a cancel on Python 3.11 (a notification arriving as the worker
        stops), leaving the listener running for ever."""
        channel = sql.CHANNEL
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    conninfo(self._pool), autocommit=True, connect_timeout=5
                )
                async with conn:
                    await conn.execute(f'LISTEN "{channel}"'.encode())
                    self._wake.set()  # what was inserted while nobody listened
                    while True:
                        async for note in conn.notifies(timeout=_LISTEN_CHECK_S):
                            self._notified(json.loads(note.payload))
                        await conn.execute("SELECT 1")  # still there?
            except DB_DOWN as exc:
                logger.debug("listener: %s; polling until it is back", exc)
            await asyncio.sleep(self._timing.poll_s)

    def _notified(self, notification: dict[str, Any]) -> None:
        if notification.get("type") == "job_inserted":
            self._wake.set()
        elif notification.get("type") == "abort_job_requested":
            self.abort_local(int(notification["job_id"]))

    async def _abort_loop(self) -> None:
        """A safety net under the abort notification (lost while the listener reconnects)."""
        while True:
            await asyncio.sleep(self._timing.poll_s)
            if not self._running:
                continue
            with contextlib.suppress(*DB_DOWN):
                async with connection(self._pool) as conn:
                    rows = await (await conn.execute(sql.MY_ABORTS, (self._worker_id,))).fetchall()
                for (job_id,) in rows:
                    self.abort_local(int(job_id))

    # ------------------------------------------------------------------ dead workers' jobs

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(self._timing.reap_every_s)
            since = self._healthy_since
            # Only with a heartbeat steady for the whole bound: after an outage every worker
            # gets that long to beat again before any is presumed dead.
            if since is None or time.monotonic() - since < self._timing.dead_after_s:
                continue
            try:
                await reap(self._pool, dead_after_s=self._timing.dead_after_s)
            except DB_DOWN as exc:
                logger.debug("reaper: %s", exc)


async def reap(pool: Pool, *, dead_after_s: float) -> list[int]:
    """Take back the running jobs of workers silent for `dead_after_s`: retried (the lost
    attempt counts), failed after their last attempt, or cancelled if that was asked."""
    conn: Connection
    async with connection(pool) as conn:
        stalled = await (await conn.execute(sql.STALLED, (sql.QUEUE, dead_after_s))).fetchall()
    taken: list[int] = []
    for job_id, worker_id, _attempts, _abort, args in stalled:
        max_attempts = int(dict(args).get("max_attempts", 1))
        async with connection(pool) as conn, conn.transaction():
            row = await (await conn.execute(sql.STALLED_FOR_UPDATE, (job_id, worker_id))).fetchone()
            if row is None:
                continue  # another worker took it back first, or it ended meanwhile
            attempts, abort_requested, key = row
            attempt = int(attempts) + 1
            if abort_requested:
                outcome = Outcome(status=JobStatus.CANCELLED, error="cancelled")
            elif attempt >= max_attempts:
                error = "interrupted: the worker running it stopped during its final attempt"
                outcome = Outcome(status=JobStatus.FAILED, error=error)
            else:
                error = "interrupted: the worker running it stopped answering"
                outcome = Outcome(status=JobStatus.QUEUED, error=error)
            await apply_outcome(conn, int(job_id), outcome, key=key)
        logger.warning(
            "job %s taken back from dead worker %s: %s", job_id, worker_id, outcome.status
        )
        taken.append(int(job_id))
    async with connection(pool) as conn:
        await conn.execute(sql.PRUNE_WORKERS, (dead_after_s,))
    return taken


async def apply_outcome(conn: Connection, job_id: int, outcome: Outcome, *, key: object) -> None:
    """Record `outcome` of a running job (inside the caller's transaction, the row locked)."""
    status = outcome.status
    error = outcome.error
    if status is JobStatus.QUEUED and key is not None:
        newer = await (await conn.execute(sql.QUEUED_WITH_KEY, (key, job_id))).fetchone()
        if newer is not None:
            # The newer request asks for the same work with fresher arguments: it replaces this.
            status, error = JobStatus.CANCELLED, f"superseded by job {newer[0]}"
    if status is JobStatus.QUEUED:
        await conn.execute(sql.RETRY, (job_id, outcome.retry_in_s))
        if outcome.refund_attempt:
            await conn.execute(sql.REFUND, (job_id,))
    else:
        final = {
            JobStatus.SUCCEEDED: "succeeded",
            JobStatus.FAILED: "failed",
            JobStatus.CANCELLED: "aborted",
        }[status]
        await conn.execute(sql.FINISH, (job_id, final))
        # Whoever waits for this job's lock may start now, on any worker.
        await conn.execute(
            "SELECT pg_notify(%s, json_build_object('type', 'job_inserted', 'job_id', %s)::text)",
            (sql.CHANNEL, job_id),
        )
    if error is not None:
        await conn.execute(sql.SET_ERROR, (job_id, error))
    elif status is JobStatus.SUCCEEDED:
        await conn.execute("DELETE FROM job_errors WHERE job_id = %s", (job_id,))


def _described(outcome: Outcome) -> str:
    if outcome.status is JobStatus.QUEUED:
        if outcome.refund_attempt and outcome.error:
            return f"waits {outcome.retry_in_s:.1f}s: {outcome.error}"
        if outcome.refund_attempt:
            return "queued again: the worker stopped during its attempt"
        return f"retries in {outcome.retry_in_s:.1f}s: {outcome.error}"
    return str(outcome.status)
