"""The one interface every coding-agent harness is driven through, and the values it trades in."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pathlib import Path


class RunStatus(enum.StrEnum):
    """How an agent run ended."""

    SUCCESS = "success"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    BUDGET = "stopped_at_budget"
    CANCELLED = "cancelled"


class CostSource(enum.StrEnum):
    """Where a cost figure came from: never a guess presented as fact."""

    REPORTED = "reported"  # the CLI said so
    PRICED = "priced"  # tokens x the dated price table
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Usage:
    """Token totals as the vendor reported them.

    `input_tokens` excludes cache reads and writes; `output_tokens` includes reasoning.
    """

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    turns: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "turns": self.turns,
        }


@dataclass(frozen=True, slots=True)
class AgentTask:
    """What one agent run is asked to do.

    `prompt` is the full brief as Baton wrote it (task, trusted comments, handoff context);
    `title`/`body` are the issue's own text, kept apart so adapters that take a separate
    system prompt or a task file can place them as their harness expects.
    """

    prompt: str
    title: str = ""
    body: str = ""
    model: str = ""
    resume_session_id: str | None = None


GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Resources:
    """What all of one run's processes may hold together (see adapters/runlimits.py for how)."""

    processes: int = 1024
    memory_bytes: int = 8 * GIB  # tmpfs included
    disk_bytes: int = 4 * GIB  # the worktree and the agent's HOME together


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run may spend: wall-clock seconds, dollars (None = no dollar cap), resources.

    `scratch` is where the adapter makes the agent's HOME and inputs: a directory inside the
    run's bounded disk area when the caller has one; None is the system's temp dir.
    """

    timeout_s: float = 1800.0
    max_cost_usd: float | None = None
    resources: Resources = field(default_factory=Resources)
    scratch: Path | None = None


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """Progress seen while a run is going: a line of text and/or the usage so far."""

    kind: str  # "started" | "message" | "tool" | "usage" | "finished"
    text: str = ""
    usage: Usage | None = None
    cost_usd: float | None = None


class EventSink(Protocol):
    """Receives progress while the agent runs (streamed usage, tool calls, messages)."""

    async def __call__(self, event: AgentEvent, /) -> None: ...


async def discard_events(event: AgentEvent, /) -> None:
    """An EventSink that ignores everything (for callers that do not observe progress)."""
    del event


@dataclass(frozen=True, slots=True)
class AgentResult:
    """The normalized outcome of one run, whichever harness produced it."""

    status: RunStatus
    summary: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    cost_source: CostSource = CostSource.UNKNOWN
    price_date: str | None = None  # the price table's date when cost_source is PRICED
    session_id: str | None = None
    error: str = ""  # what went wrong, in words a maintainer can act on
    harness_version: str = ""

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.SUCCESS


class AgentAdapter(Protocol):
    """Drives one harness. Implementations never raise for an agent's own failure: they return
    an AgentResult with a non-success status and an `error` that says what happened."""

    name: str

    async def run(
        self, task: AgentTask, workdir: Path, limits: Limits, events: EventSink
    ) -> AgentResult: ...
