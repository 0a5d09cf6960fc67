"""The embedded job queue: jobs in SQLite, worked by asyncio tasks on the server's own loop."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from bot.logs import bound
from bot.queue import sqlite_sql as sql
from bot.queue.base import (
    CANCEL_REQUESTED,
    SHUTTING_DOWN,
    JobContext,
    JobHandler,
    JobInfo,
    JobStatus,
    NewJob,
    PurgedJobs,
    RetryLater,
    Submitted,
    WaitTurn,
)
from bot.queue.policy import Ending, Outcome, decide
from bot.store.db import transaction
from bot.store.errors import StoreUnavailable

logger = logging.getLogger(__name__)

# Safety net only: submits from this process wake the worker at once, but a write by another
# process (a CLI command) to the same file is noticed at the next look.
DEFAULT_IDLE_POLL_S = 2.0
_DB_ERROR_PAUSE_S = 1.0


class SQLiteJobQueue:
    """A `JobQueue` on one SQLite file, which this process alone works.

    Two processes working the same file would take each other's running jobs for stalled ones at
    start: run one server per database (scale out with the PostgreSQL queue instead).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        concurrency: int = 4,
        retry_base_s: float = 5.0,
        retry_max_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        idle_poll_s: float = DEFAULT_IDLE_POLL_S,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._conn = conn
        self._concurrency = concurrency
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._clock = clock
        self._rand = rand
        self._idle_poll_s = idle_poll_s
        self._handlers: dict[str, JobHandler] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._cancel_requested: set[int] = set()
        self._wake = asyncio.Event()  # something may have become claimable
        self._progress = asyncio.Event()  # the worker finished a pass or a job ended
        self._worker: asyncio.Task[None] | None = None

    def register(self, task: str, handler: JobHandler) -> None:
        if task in self._handlers:
            raise ValueError(f"a handler is already registered for task {task!r}")
        self._handlers[task] = handler

    async def start(self) -> None:
        if self._worker is not None:
            raise RuntimeError("the job queue is already started")
        self._recover()
        self._worker = asyncio.create_task(self._work(), name="baton-job-queue")

    async def stop(self, *, grace_s: float = 0.0) -> None:
        worker, self._worker = self._worker, None
        # Cancelled before any await, so nothing is claimed once `stop` began.
        if worker is not None:
            worker.cancel(SHUTTING_DOWN)
        if grace_s > 0 and self._running:
            logger.info("waiting up to %.0fs for %d running jobs", grace_s, len(self._running))
            await asyncio.wait(set(self._running.values()), timeout=grace_s)
        # Without a grace, cancelled before any await too: no claimed handler starts after it.
        running = list(self._running.values())
        for task in running:
            task.cancel(SHUTTING_DOWN)
        # Each handler task records its job as queued again before it ends.
        await asyncio.gather(*([worker] if worker else []), *running, return_exceptions=True)

    async def submit(self, job: NewJob | None, *, delivery_id: str | None = None) -> Submitted:
        args = _encode_args(job.args) if job is not None else ""
        try:
            return self._submit(job, args, delivery_id)
        except sqlite3.OperationalError as exc:
            # Locked past the busy timeout, or a disk gone: nothing was written.
            raise StoreUnavailable(f"the database cannot take the job: {exc}") from exc

    def _submit(self, job: NewJob | None, args: str, delivery_id: str | None) -> Submitted:
        now = self._clock()
        with transaction(self._conn) as conn:
            # ON CONFLICT DO NOTHING writes no row for a delivery seen before.
            seen = delivery_id is not None and (
                conn.execute(sql.RECORD_DELIVERY, (delivery_id, now)).rowcount == 0
            )
            if seen:
                return Submitted(job_id=None, duplicate_delivery=True)
            if job is None:
                return Submitted(job_id=None)
            existing = None
            if job.dedupe_key is not None:
                existing = conn.execute(sql.QUEUED_WITH_KEY, (job.dedupe_key, -1)).fetchone()
            if existing is not None:
                job_id, coalesced = int(existing[0]), True
            else:
                values = (job.task, args, job.lock, job.dedupe_key, job.max_attempts)
                cursor = conn.execute(sql.INSERT_JOB, (*values, now, now + job.delay_s))
                job_id, coalesced = _rowid(cursor), False
            if delivery_id is not None:
                conn.execute(sql.LINK_DELIVERY, (job_id, delivery_id))
        if not coalesced:
            self._wake.set()
        return Submitted(job_id=job_id, coalesced=coalesced)

    async def cancel(self, job_id: int) -> bool:
        params = (self._clock(), "cancelled", job_id)
        if self._conn.execute(sql.CANCEL_QUEUED, params).rowcount:
            logger.info("job %d cancelled while queued", job_id)
            self._wake.set()  # it may have been holding back a later job of its lock
            self._progress.set()
            return True
        task = self._running.get(job_id)
        if task is None:
            return False
        self._cancel_requested.add(job_id)
        task.cancel(CANCEL_REQUESTED)
        if task is not asyncio.current_task():
            # Return once the job is recorded CANCELLED, so the caller can report it as done.
            await asyncio.wait({task})
        return True

    async def get(self, job_id: int) -> JobInfo | None:
        row = self._conn.execute(sql.GET_JOB, (job_id,)).fetchone()
        return None if row is None else _job_info(row)

    async def list_jobs(
        self, *, status: JobStatus | None = None, lock: str | None = None
    ) -> list[JobInfo]:
        query = sql.list_jobs(by_status=status is not None, by_lock=lock is not None)
        params = [value for value in (status, lock) if value is not None]
        return [_job_info(row) for row in self._conn.execute(query, params)]

    async def count(self, *, status: JobStatus) -> int:
        row = self._conn.execute(sql.COUNT_BY_STATUS, (status,)).fetchone()
        return int(row[0])

    async def wait_idle(self, timeout: float) -> None:  # noqa: ASYNC109 - the protocol's
        async with asyncio.timeout(timeout):
            while True:
                self._progress.clear()
                if not self._running and not self._any_claimable():
                    return
                await self._progress.wait()

    async def running_job_id(self, lock: str) -> int | None:
        row = self._conn.execute(sql.RUNNING_WITH_LOCK, (lock,)).fetchone()
        return None if row is None else int(row[0])

    async def purge(self, *, finished_before: float, deliveries_before: float) -> PurgedJobs:
        with transaction(self._conn) as conn:
            jobs = conn.execute(sql.PURGE_JOBS, (finished_before,)).rowcount
            deliveries = conn.execute(sql.PURGE_DELIVERIES, (deliveries_before,)).rowcount
        return PurgedJobs(jobs=jobs, deliveries=deliveries)

    # ------------------------------------------------------------------ the worker

    async def _work(self) -> None:
        while True:
            self._wake.clear()
            try:
                self._claim_due()
                pause = self._next_pause()
            except sqlite3.Error:
                # The worker's outermost boundary: a database error must not end the worker.
                logger.exception("job queue: database error; trying again")
                pause = _DB_ERROR_PAUSE_S
            self._progress.set()
            try:
                async with asyncio.timeout(pause):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _claim_due(self) -> None:
        while len(self._running) < self._concurrency:
            # fetchall: a RETURNING statement's transaction ends only once all rows are read.
            rows = self._conn.execute(sql.CLAIM, {"now": self._clock()}).fetchall()
            if not rows:
                return
            job_id, task, args, attempt, max_attempts = rows[0]
            handler = self._handlers.get(task)
            if handler is None:
                logger.error("job %d: no handler registered for task %r", job_id, task)
                self._record(job_id, Outcome(status=JobStatus.FAILED, error=f"unknown task {task}"))
                continue
            context = JobContext(
                job_id=job_id, attempt=attempt, max_attempts=max_attempts, args=json.loads(args)
            )
            runner = asyncio.create_task(self._run(handler, context, task), name=f"job-{job_id}")
            # Registered before anyone can await the task, so it runs first when the task ends;
            # it settles a job whose task was cancelled before its first step.
            runner.add_done_callback(functools.partial(self._on_done, context=context))
            self._running[job_id] = runner

    def _next_pause(self) -> float:
        now = self._clock()
        (next_at,) = self._conn.execute(sql.NEXT_SCHEDULED, (now,)).fetchone()
        if next_at is None:
            return self._idle_poll_s
        return max(0.0, min(self._idle_poll_s, float(next_at) - now))

    async def _run(self, handler: JobHandler, context: JobContext, task: str) -> None:
        # The job's own lines (started, retried, its end) name what its arguments say it is for.
        args = context.args
        delivery, repo = args.get("delivery_id"), args.get("repo")
        with bound(
            delivery=delivery if isinstance(delivery, str) else None,
            repo=repo if isinstance(repo, str) else None,
        ):
            await self._run_bound(handler, context, task)

    async def _run_bound(self, handler: JobHandler, context: JobContext, task: str) -> None:
        job_id = context.job_id
        logger.info(
            "job %d (%s): attempt %d/%d started",
            job_id,
            task,
            context.attempt,
            context.max_attempts,
        )
        reason: str | None = None
        delay: float | None = None
        try:
            await handler(context)
        except asyncio.CancelledError:
            ending = Ending.CANCELLED
        except RetryLater as exc:
            ending, reason, delay = Ending.RETRY_LATER, exc.reason, exc.delay_s
        except WaitTurn as exc:
            ending, reason, delay = Ending.WAIT, exc.reason, exc.delay_s
        except Exception as exc:
            # The handler's outermost boundary: any error fails this job, never the worker.
            logger.exception("job %d (%s): handler raised", job_id, task)
            ending, reason = Ending.RAISED, f"{type(exc).__name__}: {exc}"
        else:
            ending = Ending.RETURNED
        self._settle(context, ending, reason=reason, delay=delay)

    def _on_done(self, runner: asyncio.Task[None], *, context: JobContext) -> None:
        if runner.cancelled() and context.job_id in self._running:
            self._settle(context, Ending.CANCELLED)

    def _settle(
        self,
        context: JobContext,
        ending: Ending,
        *,
        reason: str | None = None,
        delay: float | None = None,
    ) -> None:
        job_id = context.job_id
        outcome = decide(
            ending,
            reason=reason,
            requested_delay_s=delay,
            cancel_requested=job_id in self._cancel_requested,
            attempt=context.attempt,
            max_attempts=context.max_attempts,
            base_s=self._retry_base_s,
            max_s=self._retry_max_s,
            rand=self._rand,
        )
        try:
            self._record(job_id, outcome)
        except sqlite3.Error:
            # Left RUNNING in the file: the next start recovers it.
            logger.exception("job %d: could not record its outcome %s", job_id, outcome.status)
        finally:
            self._running.pop(job_id, None)
            self._cancel_requested.discard(job_id)
            self._wake.set()  # its lock and its concurrency slot are free now
            self._progress.set()

    def _record(self, job_id: int, outcome: Outcome) -> None:
        now = self._clock()
        if outcome.status is JobStatus.QUEUED:
            with transaction(self._conn):
                self._requeue(job_id, now + outcome.retry_in_s, outcome)
            return
        self._conn.execute(sql.FINISH, (outcome.status, now, outcome.error, job_id))
        logger.info("job %d %s", job_id, outcome.status)

    def _requeue(self, job_id: int, at: float, outcome: Outcome) -> None:
        """Queue a running job again, unless a newer job with its dedupe key is queued already."""
        key_row = self._conn.execute("SELECT dedupe_key FROM jobs WHERE id = ?", (job_id,))
        (key,) = key_row.fetchone()
        newer = None
        if key is not None:
            newer = self._conn.execute(sql.QUEUED_WITH_KEY, (key, job_id)).fetchone()
        if newer is not None:
            # The newer request asks for the same work with fresher arguments: it replaces this one.
            error = f"superseded by job {newer[0]}"
            self._conn.execute(sql.FINISH, (JobStatus.CANCELLED, self._clock(), error, job_id))
            logger.info("job %d cancelled: %s", job_id, error)
            return
        refund = 1 if outcome.refund_attempt else 0
        self._conn.execute(sql.REQUEUE, (at, outcome.error, refund, job_id))
        if outcome.refund_attempt and outcome.error:
            logger.info("job %d waits %.1fs: %s", job_id, at - self._clock(), outcome.error)
        elif outcome.refund_attempt:
            logger.info("job %d queued again: the queue stopped during its attempt", job_id)
        else:
            logger.info("job %d retries in %.1fs: %s", job_id, at - self._clock(), outcome.error)

    def _recover(self) -> None:
        """Requeue jobs a dead process left RUNNING; the interrupted attempt counts."""
        with transaction(self._conn) as conn:
            for job_id, _key, attempts, max_attempts in conn.execute(sql.RUNNING_JOBS).fetchall():
                if attempts >= max_attempts:
                    # A job that keeps killing its process must not bring it down forever.
                    error = "interrupted: the process stopped during its final attempt"
                    outcome = Outcome(status=JobStatus.FAILED, error=error)
                    conn.execute(sql.FINISH, (outcome.status, self._clock(), error, job_id))
                    logger.warning("job %d failed: %s", job_id, error)
                    continue
                error = "interrupted: the process running it stopped"
                outcome = Outcome(status=JobStatus.QUEUED, error=error)
                self._requeue(job_id, self._clock(), outcome)

    def _any_claimable(self) -> bool:
        (found,) = self._conn.execute(sql.ANY_CLAIMABLE, {"now": self._clock()}).fetchone()
        return bool(found)


def _encode_args(args: dict[str, Any]) -> str:
    try:
        return json.dumps(args, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"job args must be JSON: {exc}") from exc


def _rowid(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:
        raise RuntimeError("SQLite returned no id for the inserted job")
    return cursor.lastrowid


def _job_info(row: tuple[Any, ...]) -> JobInfo:
    (job_id, task, args, status, lock, key, attempts, max_attempts, *times, error) = row
    created_at, scheduled_at, started_at, finished_at = times
    return JobInfo(
        id=job_id,
        task=task,
        args=json.loads(args),
        status=JobStatus(status),
        lock=lock,
        dedupe_key=key,
        attempts=attempts,
        max_attempts=max_attempts,
        created_at=created_at,
        scheduled_at=scheduled_at,
        started_at=started_at,
        finished_at=finished_at,
        error=error,
    )
