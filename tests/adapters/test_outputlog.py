"""A CLI's output as its run's agent log: every line as it comes, up to a bound; then only the
last lines, with how many were left out between; blank lines skipped, long ones cut."""

from __future__ import annotations

import pytest

from adapters.base import AgentEvent
from adapters.outputlog import LINE_KEPT, OutputLog

pytestmark = pytest.mark.anyio


class Sink:
    def __init__(self) -> None:
        self.events: list[AgentEvent] = []

    async def __call__(self, event: AgentEvent) -> None:
        self.events.append(event)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.events]


async def test_lines_go_out_as_they_come_until_the_bound() -> None:
    sink = Sink()
    log = OutputLog(sink, live=3, tail=2)
    for n in range(1, 4):
        await log.stdout(f"line {n}")
    assert sink.texts == ["line 1", "line 2", "line 3"]
    await log.stderr("   ")
    await log.close()
    assert sink.texts == ["line 1", "line 2", "line 3"]
    assert [e.data["stream"] for e in sink.events] == ["stdout"] * 3


async def test_past_the_bound_only_the_last_lines_are_kept_and_the_gap_is_said() -> None:
    sink = Sink()
    log = OutputLog(sink, live=2, tail=2)
    for n in range(1, 11):
        await log.stdout(f"line {n}")
    assert sink.texts == ["line 1", "line 2"]  # the rest waits for the end
    await log.stderr("the last word")
    await log.close()
    assert sink.texts == [
        "line 1",
        "line 2",
        "… 7 more lines of output not kept …",
        "line 10",
        "the last word",
    ]
    assert sink.events[-1].data["stream"] == "stderr"


async def test_a_runaway_line_is_cut_before_it_is_kept() -> None:
    sink = Sink()
    log = OutputLog(sink)
    await log.stdout("x" * (LINE_KEPT * 10))
    assert [len(t) for t in sink.texts] == [LINE_KEPT]
