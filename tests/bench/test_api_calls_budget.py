"""The live check run's pace keeps a run of any length within the API-call budget the bench
writes into docs/performance.md (counts, from the functions that pace real runs)."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ is scripts, not a package: its modules import as the scripts see each other.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from api_calls import LIVE_BUDGET, live_budget


def test_every_run_length_stays_within_its_budget() -> None:
    for minutes, budget in LIVE_BUDGET.items():
        assert live_budget(minutes) <= budget, minutes


def test_longer_runs_cost_more_calls_but_less_than_one_a_minute_once_old() -> None:
    assert live_budget(10) < live_budget(30) < live_budget(120)
    assert live_budget(120) - live_budget(60) <= 61
