"""What a CLI printed, as its run's agent log: a `message` event per line, bounded.

A `command` agent streams no turns or tool calls Baton can read, so its stdout and stderr are
what a person has to see what it did. Each line becomes a `message` event (the run engine masks
the run's secrets in it, then clips it like every event text); a CLI that prints without end
fills no database: the first lines go out as they come, and of the rest only the last ones,
once it stops, with a line saying how many were left out between.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from adapters.base import AgentEvent

if TYPE_CHECKING:
    from adapters.base import EventSink

LIVE_LINES = 200  # lines sent as they come
TAIL_LINES = 40  # of the lines after those, the last ones, sent at the end
# A line is cut here before it is kept: long enough that a secret in it is whole when the run's
# mask reads it (the event keeps far less), short enough that no line holds memory.
LINE_KEPT = 4096


class OutputLog:
    def __init__(
        self, events: EventSink, *, live: int = LIVE_LINES, tail: int = TAIL_LINES
    ) -> None:
        self._events = events
        self._live = live
        self._sent = 0
        self._tail: collections.deque[AgentEvent] = collections.deque(maxlen=tail)
        self._held = 0  # lines past the live ones, the tail's included

    async def stdout(self, line: str) -> None:
        await self._line(line, "stdout")

    async def stderr(self, line: str) -> None:
        await self._line(line, "stderr")

    async def _line(self, line: str, stream: str) -> None:
        text = line[:LINE_KEPT].rstrip()
        if not text.strip():
            return
        event = AgentEvent(kind="message", text=text, data={"stream": stream})
        if self._sent < self._live:
            self._sent += 1
            await self._events(event)
            return
        self._held += 1
        self._tail.append(event)

    async def close(self) -> None:
        """Send the tail held back (once the process is over)."""
        left_out = self._held - len(self._tail)
        if left_out:
            note = f"… {left_out} more lines of output not kept …"
            await self._events(AgentEvent(kind="message", text=note, data={"stream": "baton"}))
        while self._tail:
            await self._events(self._tail.popleft())
        self._held = 0
