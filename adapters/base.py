"""The one interface every coding-agent harness is driven through, and the values it trades in."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


class RunStatus(enum.StrEnum):
    """A run's status, from queued to how it ended: the one vocabulary of the ledger, the status
    comment and the adapters (which end a run with one of the last five)."""

    QUEUED = "queued"
    RUNNING = "running"
    REFUSED = "refused"
    # Its cost cap is above `budget.approve_above_usd`: it waits, holding nothing, for
    # `/agent approve` (which queues it again) or `/agent deny` (which refuses it).
    AWAITING_APPROVAL = "awaiting_approval"
    SUCCESS = "success"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    BUDGET = "stopped_at_budget"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self not in {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.AWAITING_APPROVAL}


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


EVENT_TEXT_LIMIT = 200  # characters: a summary of a turn or a tool call, never a file's contents
# Tool inputs that carry contents (what is written, replaced, patched): never an input's summary.
_CONTENT_KEYS = frozenset(
    {"content", "old_string", "new_string", "oldString", "newString", "new_source", "patch"}
) | {"patchText", "diff"}
# What says best what a call is about, in this order; else its first other string field.
_SUMMARY_KEYS: tuple[str, ...] = ("command", "cmd", "file_path", "filePath", "absolute_path")
_SUMMARY_KEYS += ("notebook_path", "path", "url", "query", "pattern")


def clip(text: str) -> str:
    """An event's text on one line, at most EVENT_TEXT_LIMIT characters."""
    text = " ".join(text.split())
    return text if len(text) <= EVENT_TEXT_LIMIT else text[: EVENT_TEXT_LIMIT - 1] + "…"


def _tool_line(name: str, summary: str, ok: bool | None) -> str:
    line = f"{name} {summary}".strip()
    return line if ok is None else f"{line} ({'ok' if ok else 'failed'})"


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """Progress seen while a run is going: a line of text and/or the usage so far.

    `turn` and `tool` events are the rows of a run's event log, with their fields in `data`:
    - a turn (a model message, as its CLI streams it): `turn` (its number, from 1) and `text`;
    - a tool call: `tool` (its name), `input` (what it is about: the command, the file path),
      `call` (the CLI's id for it, when it has one) and `turn` (the message that made it, when
      the stream says);
    - its outcome: another `tool` event for the same `call`, with `ok`. A CLI that shows a call
      only once it is done gives a single event, with `ok`.
    A `message` is a line a CLI said: a `command` agent's stdout and stderr (`stream`), whatever
    it printed (adapters/outputlog.py bounds how many). Texts are clipped to EVENT_TEXT_LIMIT
    (the run engine masks secrets first); a harness's tool output is never in one.
    """

    kind: str  # "started" | "turn" | "message" | "tool" | "usage" | "finished"
    text: str = ""
    usage: Usage | None = None
    cost_usd: float | None = None
    data: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def turn(
        cls, number: int, text: str = "", *, extra: Mapping[str, object] | None = None
    ) -> AgentEvent:
        return cls(kind="turn", text=clip(text), data={"turn": number, **(extra or {})})

    @classmethod
    def tool_call(
        cls,
        name: str,
        about: str | Mapping[str, object] | None = None,
        *,
        call: str = "",
        turn: int | None = None,
        ok: bool | None = None,
        text: str | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> AgentEvent:
        """A call (`ok` None) or its outcome; `about` is a summary, or the call's input to
        summarise. `text` replaces the default "NAME SUMMARY" line."""
        summary = clip(about if isinstance(about, str) else cls.summarise(about or {}))
        data: dict[str, object] = {"tool": name, "input": summary}
        if call:
            data["call"] = call
        if turn is not None:
            data["turn"] = turn
        if ok is not None:
            data["ok"] = ok
        line = text if text is not None else _tool_line(name, summary, ok)
        return cls(kind="tool", text=clip(line), data={**data, **(extra or {})})

    def outcome(self, *, ok: bool, extra: Mapping[str, object] | None = None) -> AgentEvent:
        """The outcome of this call: the same call, with `ok` (and whatever else is known)."""
        line = _tool_line(str(self.data.get("tool", "")), str(self.data.get("input", "")), ok)
        data = {**self.data, "ok": ok, **(extra or {})}
        return AgentEvent(kind="tool", text=clip(line), data=data)

    @staticmethod
    def summarise(args: Mapping[str, object]) -> str:
        """What a tool call is about: its command or file path, else its first string field
        that is not contents (empty when it has none)."""
        for key in _SUMMARY_KEYS:
            if isinstance(args.get(key), str) and args[key]:
                return str(args[key])
        for key, value in args.items():
            if isinstance(value, str) and value and key not in _CONTENT_KEYS:
                return value
        return ""


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
