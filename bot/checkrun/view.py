"""The live Baton check run as a view of the run's event log (pure: events in, output out).

The run's events fold into a `LiveView`: who works, since when, tokens and cost so far, the last
tool call, and how it ended. `check_state` and `output` turn it into what GitHub shows; `due`
says when the next update may go (every 5 s at first, less often as the run ages, so a run of
any length costs a bounded number of calls).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.render import format_duration

if TYPE_CHECKING:
    from collections.abc import Mapping

MIN_INTERVAL_S = 5.0  # BATON_CHECK_RUN_UPDATE_S
# The interval grows with the run's age (age / AGE_FACTOR), up to MAX_FACTOR times the least.
AGE_FACTOR = 12.0
MAX_FACTOR = 12.0
# How each end shows on GitHub; "stopped at budget" asks a person to act (continue or not).
CONCLUSIONS: dict[str, str] = {
    RunStatus.SUCCESS: "success",
    RunStatus.FAILED: "failure",
    RunStatus.TIMED_OUT: "timed_out",
    RunStatus.CANCELLED: "cancelled",
    RunStatus.BUDGET: "action_required",
    RunStatus.REFUSED: "neutral",
}
HEADLINES: dict[str, str] = {
    RunStatus.SUCCESS: "done",
    RunStatus.FAILED: "failed",
    RunStatus.TIMED_OUT: "timed out",
    RunStatus.CANCELLED: "cancelled",
    RunStatus.BUDGET: "stopped at budget",
    RunStatus.REFUSED: "not started",
}
_TOOL_CHARS = 120
AGENT_AT_WORK = frozenset({"brief", "agent_started", "usage", "turn", "message", "tool"})


@dataclass(frozen=True, slots=True)
class LiveView:
    run_id: str
    head_sha: str = ""  # the commit the run started from: the live check run's commit
    agent: str = ""
    model: str = ""
    started_at: float | None = None
    working: bool = False  # the agent's process has started
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    turns: int = 0
    last_tool: str = ""
    pr_url: str = ""
    ended: str = ""  # the run's final RunStatus, once it ended
    reason: str = ""
    ended_at: float | None = None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def apply(view: LiveView, kind: str, data: Mapping[str, object], at: float) -> LiveView:
    """The view after one event of the run's log."""
    change = dataclasses.replace
    if kind == "workspace":
        return change(view, head_sha=str(data.get("head", "")))
    if kind == "started":
        return change(
            view,
            agent=str(data.get("agent", "")),
            model=str(data.get("model", "")),
            started_at=view.started_at or at,
            working=False,
        )
    if kind in AGENT_AT_WORK and not view.working:
        # The brief handed over, or anything the agent streams: it is at work (not every CLI
        # says that it started).
        view = change(view, working=True, started_at=view.started_at or at)
    if kind == "usage":
        usage = data.get("usage")
        cost = data.get("cost_usd")
        if isinstance(usage, dict):
            view = change(
                view,
                input_tokens=_int(usage.get("input_tokens")),
                output_tokens=_int(usage.get("output_tokens")),
            )
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            view = change(view, cost_usd=float(cost))
        return view
    if kind == "turn":
        return change(view, turns=max(view.turns, _int(data.get("turn"))))
    if kind == "tool":
        return change(view, last_tool=str(data.get("text") or data.get("tool") or ""))
    if kind in {"pr_opened", "pr_updated"}:
        return change(view, pr_url=str(data.get("url", "")))
    if kind == "ended":
        return change(
            view, ended=str(data.get("status", "")), reason=str(data.get("reason", "")), ended_at=at
        )
    return view


def check_state(view: LiveView) -> tuple[str, str | None]:
    """(status, conclusion) as GitHub takes them: queued until the agent starts."""
    if view.ended:
        return "completed", CONCLUSIONS.get(view.ended, "failure")
    return ("in_progress" if view.working else "queued"), None


def _code(text: str) -> str:
    """Agent-made text shown as code, so no Markdown of its own is rendered (no link, no
    image that would call out): no backtick or newline can break out."""
    flat = " ".join(text.replace("`", "'").split())
    return "`" + (flat if len(flat) <= _TOOL_CHARS else flat[: _TOOL_CHARS - 1] + "…") + "`"


def _cost(view: LiveView) -> str:
    return "unknown yet" if view.cost_usd is None else f"${view.cost_usd:.4f}"


def output(view: LiveView, now: float) -> tuple[str, str]:
    """(title, summary) of the check run at `now`."""
    end = view.ended_at if view.ended and view.ended_at is not None else now
    elapsed = format_duration(end - view.started_at) if view.started_at is not None else "-"
    state = (
        HEADLINES.get(view.ended, view.ended)
        if view.ended
        else ("working" if view.working else "queued")
    )
    title = f"{view.agent or 'agent'} · {state} · {elapsed} · {_cost(view)}"
    rows = [
        "| | |",
        "|---|---|",
        f"| agent | {view.agent or '-'} |",
        f"| model | {view.model or '-'} |",
        f"| elapsed | {elapsed} |",
        f"| tokens | {view.input_tokens:,} in / {view.output_tokens:,} out |",
        f"| cost so far | {_cost(view)} |",
        f"| turns | {view.turns} |",
        f"| last tool call | {_code(view.last_tool) if view.last_tool else '-'} |",
        f"| run | `{view.run_id}` |",
    ]
    if view.pr_url:
        rows.append(f"| pull request | {view.pr_url} |")
    summary = "\n".join(rows)
    if view.ended and view.reason:
        summary += "\n\n" + view.reason
    return title[:200], summary


def interval(view: LiveView, now: float, *, least_s: float = MIN_INTERVAL_S) -> float:
    """The time between updates: `least_s` for the first minute, then a twelfth of the run's
    age, up to twelve times `least_s` (5 s, then 60 s at most: about 50 updates in 30 min)."""
    age = now - view.started_at if view.started_at is not None else 0.0
    return min(least_s * MAX_FACTOR, max(least_s, age / AGE_FACTOR))


def due(
    view: LiveView,
    *,
    sent: LiveView | None,
    last_sent_at: float | None,
    now: float,
    least_s: float = MIN_INTERVAL_S,
) -> bool:
    """Whether an update may go now: a change of state (queued, in progress, the end) at once,
    the rest once the interval passed."""
    if sent is None or last_sent_at is None or check_state(view) != check_state(sent):
        return True
    return now - last_sent_at >= interval(view, now, least_s=least_s)
