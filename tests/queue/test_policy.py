"""Retry and outcome decisions: backoff ceilings, jitter, caps, and cancel winning."""

from __future__ import annotations

import pytest

from bot.queue import JobStatus
from bot.queue.policy import Ending, Outcome, decide, retry_delay


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 5.0), (2, 10.0), (3, 20.0), (7, 300.0), (5000, 300.0)],
)
def test_backoff_doubles_up_to_the_cap(attempt: int, expected: float) -> None:
    assert retry_delay(attempt=attempt, base_s=5.0, max_s=300.0, rand=lambda: 1.0) == expected


def test_full_jitter_scales_the_whole_delay() -> None:
    assert retry_delay(attempt=3, base_s=5.0, max_s=300.0, rand=lambda: 0.25) == 5.0
    assert retry_delay(attempt=3, base_s=5.0, max_s=300.0, rand=lambda: 0.0) == 0.0


def _decide(
    ending: Ending,
    *,
    attempt: int = 1,
    cancel: bool = False,
    reason: str | None = None,
    requested_delay_s: float | None = None,
) -> Outcome:
    return decide(
        ending,
        reason=reason,
        requested_delay_s=requested_delay_s,
        cancel_requested=cancel,
        attempt=attempt,
        max_attempts=3,
        base_s=2.0,
        max_s=60.0,
        rand=lambda: 0.5,
    )


def test_returning_succeeds() -> None:
    assert _decide(Ending.RETURNED) == Outcome(status=JobStatus.SUCCEEDED)


def test_retry_later_before_the_last_attempt_is_queued_with_backoff() -> None:
    outcome = _decide(Ending.RETRY_LATER, attempt=2, reason="502")
    assert outcome == Outcome(status=JobStatus.QUEUED, error="502", retry_in_s=2.0)


def test_a_requested_delay_replaces_the_backoff() -> None:
    outcome = _decide(Ending.RETRY_LATER, reason="rate", requested_delay_s=42.0)
    assert outcome.retry_in_s == 42.0


def test_retry_later_on_the_last_attempt_fails_with_its_reason() -> None:
    assert _decide(Ending.RETRY_LATER, attempt=3, reason="502") == Outcome(
        status=JobStatus.FAILED, error="502"
    )


def test_an_exception_fails_at_once() -> None:
    assert _decide(Ending.RAISED, reason="KeyError: 'x'").status is JobStatus.FAILED


def test_a_shutdown_requeues_without_counting_the_attempt() -> None:
    outcome = _decide(Ending.CANCELLED)
    assert outcome.status is JobStatus.QUEUED
    assert outcome.refund_attempt


@pytest.mark.parametrize("ending", list(Ending))
def test_a_requested_cancel_wins_over_how_the_handler_ended(ending: Ending) -> None:
    assert _decide(ending, cancel=True, reason="x").status is JobStatus.CANCELLED
