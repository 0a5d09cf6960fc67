"""`python -m tests` spreads pytest over the cores unless the caller chose how it runs."""

from __future__ import annotations

import pytest

from tests.__main__ import MAX_PROCESSES, _spread


def test_the_suite_is_spread_over_the_cores_in_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert _spread(["-k", "budget", "-p", "no:cacheprovider"]) == [
        "--numprocesses", str(MAX_PROCESSES), "--dist", "loadgroup",
    ]  # fmt: skip
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert _spread([]) == []


@pytest.mark.parametrize(
    "args", [["-n", "0"], ["-n4"], ["--numprocesses=3"], ["--dist", "load"], ["-p", "no:xdist"]]
)
def test_a_choice_of_the_callers_is_left_alone(args: list[str]) -> None:
    assert _spread(args) == []
