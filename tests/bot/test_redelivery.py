"""Which deliveries Baton asks GitHub for again: never one that succeeded; the latest attempt of
each that never did; not forever."""

from __future__ import annotations

from bot.gh.deliveries import HookDelivery
from bot.redelivery import (
    DOTCOM_WINDOW_S,
    MAX_AUTOMATIC,
    SERVER_WINDOW_S,
    never_delivered,
    to_redeliver,
    window_s,
)

_ids = iter(range(1000, 0, -1))


def attempt(guid: str, status: int, *, redelivery: bool = False) -> HookDelivery:
    """An attempt as GitHub lists it; build lists newest first, as GitHub's."""
    return HookDelivery(
        id=next(_ids),
        guid=guid,
        delivered_at=0.0,
        redelivery=redelivery,
        status_code=status,
        status="OK" if 200 <= status < 300 else "failed",
        event="issues",
        action="labeled",
    )


def test_a_delivery_that_succeeded_is_never_redelivered() -> None:
    assert to_redeliver([attempt("a", 202)], requested={}) == []


def test_one_that_failed_and_then_succeeded_is_not_redelivered() -> None:
    attempts = [attempt("a", 202, redelivery=True), attempt("a", 0)]
    assert to_redeliver(attempts, requested={}) == []


def test_the_latest_attempt_of_each_failed_delivery_is_redelivered() -> None:
    newer_b = attempt("b", 503, redelivery=True)
    attempts = [newer_b, attempt("a", 0), attempt("b", 0), attempt("c", 200)]
    chosen = to_redeliver(attempts, requested={})
    assert [(a.guid, a.id) for a in chosen] == [("b", newer_b.id), ("a", attempts[1].id)]


def test_a_delivery_that_keeps_failing_is_left_alone_after_the_limit() -> None:
    attempts = [attempt("a", 401, redelivery=True) for _ in range(MAX_AUTOMATIC)]
    attempts.append(attempt("a", 401))
    assert to_redeliver(attempts, requested={}) == []


def test_what_this_process_asked_for_counts_before_github_records_it() -> None:
    attempts = [attempt("a", 0)]
    assert to_redeliver(attempts, requested={"a": MAX_AUTOMATIC}) == []
    assert len(to_redeliver(attempts, requested={"a": MAX_AUTOMATIC - 1})) == 1


def test_never_delivered_lists_each_delivery_once() -> None:
    attempts = [attempt("a", 500, redelivery=True), attempt("a", 0), attempt("b", 200)]
    assert [a.guid for a in never_delivered(attempts)] == ["a"]


def test_the_redelivery_window_is_githubs() -> None:
    assert window_s("https://api.github.com/") == DOTCOM_WINDOW_S
    assert window_s("https://api.octo.ghe.com/") == DOTCOM_WINDOW_S
    assert window_s("https://ghe.example.com/api/v3/") == SERVER_WINDOW_S
