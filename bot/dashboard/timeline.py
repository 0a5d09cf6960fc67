"""A run's timeline and the tail of its agent's log, read from the run's event log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bot.store.base import RunEvent

# What the agent's CLI streamed: the rows of its log.
AGENT_KINDS = frozenset({"agent_started", "turn", "message", "tool", "finished"})
ENDED = "ended"
LOG_TAIL = 40


@dataclass(frozen=True, slots=True)
class Row:
    seq: int
    at: float
    offset_s: float  # seconds since the run's first event
    kind: str
    text: str
    tone: str  # "ok", "bad" or "" (how the row is coloured)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "offset": round(self.offset_s, 1),
            "kind": self.kind,
            "text": self.text,
            "tone": self.tone,
        }


def _tokens(usage: object) -> str:
    if not isinstance(usage, dict):
        return ""
    return f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"


def _cost(data: dict[str, Any]) -> str:
    cost = data.get("cost_usd")
    return f", ${cost:.4f} so far" if isinstance(cost, (int, float)) else ""


def describe(event: RunEvent) -> tuple[str, str]:
    """One event as a line a person reads, and its tone."""
    d = event.data
    text = str(d.get("text", ""))
    match event.kind:
        case "queued":
            how = f"{d.get('trigger', '')} {d.get('verb', '')}".strip()
            return f"queued by {d.get('requester', '?')} ({how})", ""
        case "started":
            model = d.get("model") or "default"
            about = f"{d.get('adapter')}, model {model}, attempt {d.get('attempt', 1)}"
            return f"agent {d.get('agent')} started ({about})", ""
        case "workspace":
            head = str(d.get("head", ""))[:10]
            return f"worktree on {d.get('branch', '')} from {head} (the live check run's)", ""
        case "brief":
            return f"brief handed to the agent ({len(text)} characters)", ""
        case "turn":
            return f"turn {d.get('turn', '?')}: {text}", ""
        case "tool":
            ok = d.get("ok")
            return text or f"{d.get('tool')} {d.get('input', '')}", "bad" if ok is False else ""
        case "usage":
            return f"usage: {_tokens(d.get('usage'))}{_cost(d)}", ""
        case "policy":
            if d.get("ok"):
                return f"policy check passed ({d.get('files', 0)} files changed)", "ok"
            return f"policy check stopped the push: {d.get('reason', '')}", "bad"
        case "pushed":
            return f"pushed {str(d.get('sha', ''))[:10]} to {d.get('branch', '')}", "ok"
        case "pr_opened" | "pr_updated":
            verb = "opened" if event.kind == "pr_opened" else "updated"
            return f"pull request #{d.get('number')} {verb}", "ok"
        case "check_run":
            return f"check run {d.get('conclusion', '')}".strip(), ""
        case "ended":
            status = str(d.get("status", ""))
            reason = str(d.get("reason", ""))
            # An agent's own end (a fallback may follow) is told apart from the run's.
            what = "agent ended" if d.get("stage") == "agent" else "ended"
            return f"{what}: {status}" + (f" ({reason})" if reason else ""), (
                "ok" if status == "success" else "bad"
            )
        case _:
            return text or event.kind, ""


def rows(
    events: Sequence[RunEvent], *, since: float | None = None, mask: Callable[[str], str] = str
) -> list[Row]:
    """The timeline: every event, its text masked, its time as an offset from the first."""
    start = since if since is not None else (events[0].time if events else 0.0)
    out = []
    for event in events:
        text, tone = describe(event)
        out.append(Row(event.seq, event.time, event.time - start, event.kind, mask(text), tone))
    return out


def agent_log(
    events: Sequence[RunEvent], *, mask: Callable[[str], str] = str, limit: int = LOG_TAIL
) -> list[str]:
    """The last `limit` lines the agent's CLI streamed (turns, tool calls, its start and end)."""
    lines = [
        mask(str(e.data.get("text") or describe(e)[0])) for e in events if e.kind in AGENT_KINDS
    ]
    return lines[-limit:]


def brief(events: Sequence[RunEvent], *, mask: Callable[[str], str] = str) -> str | None:
    """The brief the agent received (the last one, for a run its job retried)."""
    found = [e for e in events if e.kind == "brief"]
    return mask(str(found[-1].data.get("text", ""))) if found else None


def ended(events: Sequence[RunEvent]) -> bool:
    return any(e.kind == ENDED for e in events)
