"""The JobQueue protocol and its values: what the app codes against, whatever the backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, kw_only=True)
class NewJob:
    """A job to enqueue.

    `lock` (e.g. "owner/repo#12"): never two jobs with the same lock run at once, and they run in
    the order they were submitted. `dedupe_key`: at most one queued job per key; submitting
    another while one is queued returns the queued one instead.
    """

    task: str
    args: dict[str, Any] = field(default_factory=dict)
    lock: str | None = None
    dedupe_key: str | None = None
    # Total runs allowed, the first included (procrastinate's `max_attempts` counts retries).
    max_attempts: int = 4
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.task:
            raise ValueError("a job needs a task name")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.delay_s < 0:
            raise ValueError(f"delay_s must not be negative, not {self.delay_s}")


@dataclass(frozen=True, kw_only=True)
class Submitted:
    """What `submit` did: `job_id` is None when nothing was enqueued."""

    job_id: int | None
    duplicate_delivery: bool = False
    coalesced: bool = False


@dataclass(frozen=True, kw_only=True)
class PurgedJobs:
    """What one periodic cleanup of the queue deleted."""

    jobs: int = 0
    deliveries: int = 0


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True, kw_only=True)
class JobInfo:
    """A job as stored; times are seconds since the epoch."""

    id: int
    task: str
    args: dict[str, Any]
    status: JobStatus
    lock: str | None
    dedupe_key: str | None
    attempts: int
    max_attempts: int
    created_at: float
    scheduled_at: float
    started_at: float | None
    finished_at: float | None
    # The last failure's reason (kept while a retry waits), or why the job failed or was cancelled.
    error: str | None


@dataclass(frozen=True, kw_only=True)
class JobContext:
    """What a handler is given for one attempt of one job."""

    job_id: int
    attempt: int  # 1-based
    max_attempts: int
    args: dict[str, Any]

    @property
    def final_attempt(self) -> bool:
        """True when a RetryLater raised now would fail the job instead of retrying it."""
        return self.attempt >= self.max_attempts


class RetryLater(Exception):
    """Raise from a handler to run the job again later, with backoff and jitter.

    After the job's last attempt it is FAILED with `reason`. `delay_s` overrides the backoff
    (e.g. a rate limit's reset time).
    """

    def __init__(self, reason: str, *, delay_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s


class WaitTurn(Exception):
    """Raise from a handler when the job must wait for something it does not hold (an org's
    concurrent-run slot): it runs again after `delay_s`, and the attempt does not count."""

    def __init__(self, reason: str, *, delay_s: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s


# The message of the CancelledError a handler sees: a user's cancel is reported as such, while a
# shutdown is not (its job runs again at the next start).
CANCEL_REQUESTED = "baton: job cancelled on request"
SHUTTING_DOWN = "baton: worker shutting down"


def cancel_requested(exc: BaseException) -> bool:
    """True when a handler's CancelledError comes from `cancel(job_id)`, not from a shutdown."""
    return bool(exc.args) and exc.args[0] == CANCEL_REQUESTED


JobHandler = Callable[[JobContext], Awaitable[None]]
"""Runs one attempt. Returning = SUCCEEDED; RetryLater = retry; WaitTurn = run again later,
uncounted; any other exception = FAILED."""


class JobQueue(Protocol):
    """A durable queue of jobs with per-lock serialisation, dedupe and cancel."""

    def register(self, task: str, handler: JobHandler) -> None:
        """Run `handler` for jobs of `task`; register every task before `start`."""
        ...

    async def start(self) -> None:
        """Recover jobs left running by a dead process, then start working on this event loop."""
        ...

    async def stop(self, *, grace_s: float = 0.0) -> None:
        """Stop claiming; let running handlers finish for up to `grace_s` seconds, then cancel
        the rest (CancelledError with SHUTTING_DOWN): their jobs go back to the queue, the
        interrupted attempt not counted, for the next start or another worker."""
        ...

    async def submit(self, job: NewJob | None, *, delivery_id: str | None = None) -> Submitted:
        """In one transaction, record the webhook delivery (once only) and enqueue the job."""
        ...

    async def cancel(self, job_id: int) -> bool:
        """Cancel a queued or running job (its handler sees CancelledError); False if neither."""
        ...

    async def get(self, job_id: int) -> JobInfo | None: ...

    async def list_jobs(
        self, *, status: JobStatus | None = None, lock: str | None = None
    ) -> list[JobInfo]:
        """Jobs oldest first, optionally only those with this status and/or lock."""
        ...

    async def count(self, *, status: JobStatus) -> int:
        """How many jobs have this status (without loading them: health checks ask often)."""
        ...

    async def wait_idle(self, timeout: float) -> None:  # noqa: ASYNC109 - a bound for tests
        """Return once no job is running or due; TimeoutError after `timeout` seconds."""
        ...

    async def running_job_id(self, lock: str) -> int | None:
        """The job that holds `lock` right now, if any."""
        ...

    async def purge(self, *, finished_before: float, deliveries_before: float) -> PurgedJobs:
        """Delete jobs that finished before `finished_before` and webhook deliveries received
        before `deliveries_before` (GitHub cannot redeliver them any more); queued and running
        jobs are never deleted."""
        ...
