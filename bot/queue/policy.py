"""What happens to a job after an attempt: pure decisions, shared by every queue backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bot.queue.base import JobStatus

# 2**62 seconds is far beyond any cap; stopping the exponent there keeps the float finite.
_MAX_EXPONENT = 62


class Ending(Enum):
    """How one attempt ended, as seen by the queue."""

    RETURNED = "returned"
    RETRY_LATER = "retry_later"
    # The job waits for a resource (WaitTurn): again later, the attempt not counted.
    WAIT = "wait"
    RAISED = "raised"
    # The handler was cancelled: by `cancel` (CANCELLED) or by `stop` (a shutdown, no failure).
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """The job's next state: QUEUED with `retry_in_s`, or a finished status with `error`."""

    status: JobStatus
    error: str | None = None
    retry_in_s: float = 0.0
    # A shutdown interrupted the attempt: it is run again and does not count.
    refund_attempt: bool = False


def retry_delay(*, attempt: int, base_s: float, max_s: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max_s, base_s * 2**(attempt-1)))."""
    ceiling = min(max_s, base_s * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
    return max(0.0, ceiling * rand())


def decide(
    ending: Ending,
    *,
    reason: str | None = None,
    requested_delay_s: float | None = None,
    cancel_requested: bool,
    attempt: int,
    max_attempts: int,
    base_s: float,
    max_s: float,
    rand: Callable[[], float],
) -> Outcome:
    """The outcome of an attempt that ended as `ending`.

    A requested cancel wins over however the handler ended, so a cancelled job is never retried.
    """
    if cancel_requested:
        return Outcome(status=JobStatus.CANCELLED, error="cancelled")
    if ending is Ending.CANCELLED:
        return Outcome(status=JobStatus.QUEUED, refund_attempt=True)
    if ending is Ending.RETURNED:
        return Outcome(status=JobStatus.SUCCEEDED)
    if ending is Ending.WAIT:
        delay = max(0.0, requested_delay_s or 0.0)
        return Outcome(status=JobStatus.QUEUED, error=reason, retry_in_s=delay, refund_attempt=True)
    if ending is Ending.RETRY_LATER and attempt < max_attempts:
        if requested_delay_s is not None:
            delay = max(0.0, requested_delay_s)
        else:
            delay = retry_delay(attempt=attempt, base_s=base_s, max_s=max_s, rand=rand)
        return Outcome(status=JobStatus.QUEUED, error=reason, retry_in_s=delay)
    return Outcome(status=JobStatus.FAILED, error=reason)
