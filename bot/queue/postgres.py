"""The scale-out job queue: jobs in PostgreSQL's procrastinate tables, worked by any number of
`baton worker` processes on any number of machines, submitted by any number of servers.

procrastinate's `lock` keeps the runs of one issue in order and never at once, its
`queueing_lock` coalesces a request while it waits, its abort flag (with NOTIFY) reaches the
worker running a job wherever it is, and its worker heartbeats let a live worker take back the
jobs of a dead one. Webhook deliveries are recorded in the same transaction as the enqueue.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from procrastinate import exceptions as pexc
from procrastinate import jobs as pjobs
from procrastinate.manager import JobManager
from procrastinate.psycopg_connector import PsycopgConnector

from bot.queue import postgres_sql as sql
from bot.queue.base import (
    JobHandler,
    JobInfo,
    JobStatus,
    NewJob,
    PurgedJobs,
    Submitted,
)
from bot.queue.pgworker import DB_DOWN, PgWorker, Policy, Timing
from bot.store.errors import StoreUnavailable
from bot.store.pgpool import Connection, Pool, connection

logger = logging.getLogger(__name__)

_CANCEL_POLL_S = 0.1


class PostgresJobQueue:
    """A `JobQueue` on PostgreSQL. Servers only submit (`start` is never called in a web
    replica); workers `start` it to work the queue. `recovery_s` bounds how long a dead worker's
    jobs stay taken (see `Timing`)."""

    def __init__(
        self,
        pool: Pool,
        *,
        concurrency: int = 4,
        retry_base_s: float = 5.0,
        retry_max_s: float = 300.0,
        rand: Callable[[], float] = random.random,
        recovery_s: float = 60.0,
        poll_s: float = 1.0,
        cancel_wait_s: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._pool = pool
        self._connector = PsycopgConnector()
        self._jobs = JobManager(self._connector)
        self._opened = False
        self._handlers: dict[str, JobHandler] = {}
        self._progress = asyncio.Event()
        self._cancel_wait_s = cancel_wait_s
        self._worker = PgWorker(
            pool=pool,
            jobs=self._jobs,
            handlers=self._handlers,
            concurrency=concurrency,
            policy=Policy(retry_base_s=retry_base_s, retry_max_s=retry_max_s, rand=rand),
            timing=Timing(recovery_s=recovery_s, poll_s=poll_s),
            progress=self._progress,
        )
        self._started = False

    async def _open(self) -> None:
        if not self._opened:
            # Handing procrastinate our pool does no I/O: it only keeps it.
            await self._connector.open_async(self._pool)
            self._opened = True

    def register(self, task: str, handler: JobHandler) -> None:
        if task in self._handlers:
            raise ValueError(f"a handler is already registered for task {task!r}")
        self._handlers[task] = handler

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("the job queue is already started")
        await self._open()
        try:
            await self._worker.start()
        except DB_DOWN as exc:
            raise StoreUnavailable(f"the job queue cannot reach the database: {exc}") from exc
        self._started = True

    async def stop(self, *, grace_s: float = 0.0) -> None:
        if self._started:
            # Marked stopped only once done: a stop cancelled during its grace (a second
            # SIGTERM) is finished by the next call, without a grace.
            await self._worker.stop(grace_s)
            self._started = False

    # ------------------------------------------------------------------ submitting

    async def submit(self, job: NewJob | None, *, delivery_id: str | None = None) -> Submitted:
        kwargs = _encode(job) if job is not None else None
        await self._open()
        conn: Connection
        async with connection(self._pool) as conn, conn.transaction():
            if delivery_id is not None:
                cursor = await conn.execute(sql.RECORD_DELIVERY, (delivery_id, time.time()))
                if cursor.rowcount == 0:
                    return Submitted(job_id=None, duplicate_delivery=True)
            if job is None or kwargs is None:
                return Submitted(job_id=None)
            job_id, coalesced = await self._enqueue(conn, job, kwargs)
            if delivery_id is not None:
                await conn.execute(sql.LINK_DELIVERY, (job_id, delivery_id))
        return Submitted(job_id=job_id, coalesced=coalesced)

    async def _enqueue(
        self, conn: Connection, job: NewJob, kwargs: dict[str, Any]
    ) -> tuple[int, bool]:
        """The queued job with this dedupe key, or a new one; (its id, whether it was there)."""
        while True:
            if job.dedupe_key is not None:
                found = await (
                    await conn.execute(sql.QUEUED_WITH_KEY, (job.dedupe_key, -1))
                ).fetchone()
                if found is not None:
                    return int(found[0]), True
            new = pjobs.Job(
                queue=sql.QUEUE,
                task_name=job.task,
                lock=job.lock,
                queueing_lock=job.dedupe_key,
                task_kwargs=kwargs,
                scheduled_at=_at(job.delay_s),
            )
            try:
                # A savepoint: a lost race on the queueing lock must not undo the delivery.
                async with conn.transaction():
                    deferred = await self._jobs.defer_job_async(new, connection=conn)
            except pexc.AlreadyEnqueued:
                continue  # another server queued the same request a moment ago: join it
            assert deferred.id is not None
            return deferred.id, False

    # ------------------------------------------------------------------ cancel

    async def cancel(self, job_id: int) -> bool:
        await self._open()
        conn: Connection
        async with connection(self._pool) as conn, conn.transaction():
            row = await (await conn.execute(sql.STATUS, (job_id,))).fetchone()
            if row is None:
                return False
            done = await (await conn.execute(sql.CANCEL, (job_id,))).fetchone()
            if done is None or done[0] is None:
                return False  # finished already
            if row[0] == "todo":
                await conn.execute(sql.SET_ERROR, (job_id, "cancelled"))
                logger.info("job %d cancelled while queued", job_id)
                self._progress.set()
                return True
        # Running: the abort flag's NOTIFY reaches its worker, here or on another machine.
        if self._worker.abort_local(job_id):
            current = asyncio.current_task()
            if current is None or current.get_name() != f"job-{job_id}":
                await self._worker.wait_local(job_id)
            return True
        await self._until_not_running(job_id)
        return True

    async def _until_not_running(self, job_id: int) -> None:
        """Wait (bounded) until the job's worker has stopped it, so the caller reports it done."""
        deadline = time.monotonic() + self._cancel_wait_s
        while time.monotonic() < deadline:
            async with connection(self._pool) as conn:
                row = await (await conn.execute(sql.STATUS, (job_id,))).fetchone()
            if row is None or row[0] not in {"doing", "aborting"}:
                return
            await asyncio.sleep(_CANCEL_POLL_S)
        logger.warning("job %d: cancel asked; its worker has not stopped it yet", job_id)

    # ------------------------------------------------------------------ reading

    async def get(self, job_id: int) -> JobInfo | None:
        async with connection(self._pool) as conn:
            row = await (await conn.execute(sql.GET_JOB, (job_id,))).fetchone()
        return None if row is None else _job_info(row)

    async def list_jobs(
        self, *, status: JobStatus | None = None, lock: str | None = None
    ) -> list[JobInfo]:
        statuses = list(sql.STATUSES[status.value]) if status is not None else None
        params = {"queue": sql.QUEUE, "statuses": statuses, "lock": lock}
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(sql.LIST_JOBS, params)).fetchall()
        return [_job_info(row) for row in rows]

    async def count(self, *, status: JobStatus) -> int:
        statuses = list(sql.STATUSES[status.value])
        async with connection(self._pool) as conn:
            row = await (await conn.execute(sql.COUNT, (sql.QUEUE, statuses))).fetchone()
        assert row is not None
        return int(row[0])

    async def running_job_id(self, lock: str) -> int | None:
        async with connection(self._pool) as conn:
            row = await (await conn.execute(sql.RUNNING_WITH_LOCK, (lock,))).fetchone()
        return None if row is None else int(row[0])

    async def wait_idle(self, timeout: float) -> None:  # noqa: ASYNC109 - the protocol's
        async with asyncio.timeout(timeout):
            while True:
                self._progress.clear()
                if not self._worker.busy and not await self._any_due():
                    return
                # Woken by a job's end here; polled for what other workers do.
                try:
                    async with asyncio.timeout(0.05):
                        await self._progress.wait()
                except TimeoutError:
                    pass

    async def _any_due(self) -> bool:
        async with connection(self._pool) as conn:
            row = await (await conn.execute(sql.ANY_DUE, (sql.QUEUE,))).fetchone()
        return bool(row and row[0])

    async def purge(self, *, finished_before: float, deliveries_before: float) -> PurgedJobs:
        conn: Connection
        async with connection(self._pool) as conn, conn.transaction():
            jobs = await conn.execute(sql.PURGE_JOBS, (sql.QUEUE, list(sql.FINAL), finished_before))
            deliveries = await conn.execute(sql.PURGE_DELIVERIES, (deliveries_before,))
        return PurgedJobs(jobs=jobs.rowcount, deliveries=deliveries.rowcount)


def _encode(job: NewJob) -> dict[str, Any]:
    """The job's procrastinate arguments; anything but JSON is refused before any write."""
    kwargs = {"args": job.args, "max_attempts": job.max_attempts}
    try:
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"job args must be JSON: {exc}") from exc
    return kwargs


def _at(delay_s: float) -> dt.datetime | None:
    if delay_s <= 0:
        return None
    return dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=delay_s)


_BY_STATUS = {pg: JobStatus(baton) for baton, pgs in sql.STATUSES.items() for pg in pgs}


def _job_info(row: tuple[Any, ...]) -> JobInfo:
    (job_id, task, args, status, lock, key, attempts, scheduled, *times, error) = row
    created, started, finished = (None if t is None else float(t) for t in times)
    kwargs: dict[str, Any] = dict(args or {})
    state = _BY_STATUS[status]
    created_at = created if created is not None else 0.0
    return JobInfo(
        id=int(job_id),
        task=task,
        args=dict(kwargs.get("args") or {}),
        status=state,
        lock=lock,
        dedupe_key=key,
        # procrastinate counts attempts once they end; Baton counts the one under way too.
        attempts=int(attempts) + (1 if state is JobStatus.RUNNING else 0),
        max_attempts=int(kwargs.get("max_attempts", 1)),
        created_at=created_at,
        scheduled_at=float(scheduled) if scheduled is not None else created_at,
        started_at=started,
        finished_at=finished if state.finished else None,
        error=error,
    )
