"""Budgets are monthly, in UTC calendar months: the bounds of `now`'s month, and nothing else."""

from __future__ import annotations

import pytest

from bot.ledger import month_start
from bot.store.spend import month_bounds
from tests.store.conftest import utc


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (utc(2027, 1, 15, 12), utc(2027, 1, 1), utc(2027, 2, 1)),
        (utc(2027, 1, 31, 23, 59, 59) + 0.999, utc(2027, 1, 1), utc(2027, 2, 1)),
        (utc(2027, 2, 1), utc(2027, 2, 1), utc(2027, 3, 1)),
        (utc(2028, 2, 29, 8), utc(2028, 2, 1), utc(2028, 3, 1)),  # a leap year's February
        (utc(2026, 12, 31, 23, 59, 59), utc(2026, 12, 1), utc(2027, 1, 1)),  # into a new year
    ],
)
def test_a_month_runs_from_its_first_instant_to_the_next_months(
    now: float, start: float, end: float
) -> None:
    assert month_bounds(now) == (start, end)


def test_the_ledgers_month_start_is_the_same_month() -> None:
    now = utc(2027, 3, 9, 4)
    assert month_start(now) == month_bounds(now)[0] == utc(2027, 3, 1)
