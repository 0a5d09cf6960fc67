"""The run's decisions that are not the plan's: pure functions of values, tested without I/O."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.commands import Command, CommandError, usage
from bot.handoff import Handoff
from bot.plan import Refusal, RunPlan, choose_agent, paths_in_text
from config.merge import FLAGS_FILE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from adapters.base import AgentResult
    from bot.ledger import RunRecord
    from bot.trigger import Trigger
    from config.loader import ConfigError
    from config.merge import Effective
    from config.schema import AgentsConfig

MAX_LEFT_BEHIND_CHARS = 20_000
UNFINISHED = frozenset(
    {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.REFUSED, RunStatus.AWAITING_APPROVAL}
)
FAILED = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.BUDGET})


def routed(trigger: Trigger, label_prefix: str) -> Trigger:
    """Commands route like the fix label: one set of routes serves both triggers."""
    if trigger.kind == "command" and trigger.label is None:
        return trigger.model_copy(update={"label": f"{label_prefix}fix"})
    return trigger


def task_paths(trigger: Trigger) -> list[str]:
    return paths_in_text(f"{trigger.title}\n{trigger.body}")


def flags_for(
    command: Command | CommandError | None,
    trigger: Trigger,
    config: AgentsConfig,
    *,
    label_prefix: str,
    continued: str | None = None,
) -> dict[str, object]:
    """The command's flags as config keys of the agents they apply to: every contestant of a
    compare; `continued` (the agent a `continue` resumes); else the agent that runs first,
    and its fallbacks for limits (not model)."""
    if not isinstance(command, Command) or not command.flags:
        return {}
    if command.verb == "compare":
        return {k: v for a in command.agents for k, v in command.overrides(a).items()}
    agent = command.agent or trigger.agent or continued
    fallback: tuple[str, ...] = ()
    if agent is None:
        chosen = choose_agent(
            trigger=routed(trigger, label_prefix), config=config, paths=task_paths(trigger)
        )
        if isinstance(chosen, Refusal):
            return {}  # the plan refuses with the reason
        agent, fallback = chosen
    out = command.overrides(agent)
    limits = {k: v for k, v in command.flags.items() if k != "model"}
    for other in fallback:
        out.update(replace(command, flags=limits).overrides(other))
    return out


def unknown_agent(
    command: Command | CommandError | None, config: AgentsConfig, *, command_word: str
) -> Refusal | None:
    """A command naming an agent this repository lacks gets the usage and the valid names."""
    if not isinstance(command, Command):
        return None
    named = command.agents or ((command.agent,) if command.agent else ())
    missing = [a for a in named if a not in config.agents]
    if not missing:
        return None
    return Refusal(
        f"`{missing[0]}` is not an agent this repository knows, so nothing ran.\n\n"
        + usage(command_word, sorted(config.agents))
    )


def locked_flags(effective: Effective) -> Refusal | None:
    flagged = [w for w in effective.warnings if w.file == FLAGS_FILE]
    if not flagged:
        return None
    reasons = "\n".join(f"- {w.message}" for w in flagged)
    return Refusal(
        f"A flag tried to change a key the organization locks, so nothing ran:\n{reasons}"
    )


def config_error_text(exc: ConfigError) -> str:
    lines = "\n".join(str(issue) for issue in exc.issues)
    return (
        "The agent configuration is invalid, so no agent was started:\n\n"
        f"```\n{lines}\n```\n\nFix the file on the default branch and trigger again. "
        "`baton config check` shows the same errors locally."
    )


def capped_flag_note(command: Command | CommandError | None, plan: RunPlan) -> str:
    """`--max-cost` above a budget does not raise it: say which limit applies instead."""
    asked = command.flags.get("max-cost") if isinstance(command, Command) else None
    cap = plan.limits.max_cost_usd
    if not isinstance(asked, float) or cap is None or cap >= asked:
        return ""
    return (
        f"`--max-cost={asked:g}` is above {plan.cost_cap_by}, so this run stops at "
        f"${cap:.4f} instead."
    )


def agent_failure_text(agent: str, result: AgentResult) -> str:
    what = {
        RunStatus.TIMED_OUT: "ran out of time",
        RunStatus.BUDGET: "stopped at its cost limit",
        RunStatus.CANCELLED: "was cancelled",
    }.get(result.status, "failed")
    detail = f": {result.error}" if result.error else ""
    return f"Agent `{agent}` {what}{detail}"


def handover_text(previous: str, why: str, agent: str) -> str:
    return f"`{previous}` did not succeed ({why}); handing over to `{agent}`."


def limit_handover_text(previous: RunRecord, agent: str, *, kept: bool) -> str:
    """Who takes over after a stop at a limit, and why (the agent's `on_budget`/`on_timeout`)."""
    what, key = (
        ("timed out", "on_timeout")
        if previous.status == RunStatus.TIMED_OUT
        else ("stopped at its cost limit", "on_budget")
    )
    cost = f"${previous.cost_usd:.4f}" if previous.cost_usd is not None else "an unknown cost"
    start = "from its kept work on this branch" if kept else "from the start (it wrote nothing)"
    return (
        f"`{previous.agent}` {what} after {cost}; `{agent}` takes over {start} "
        f"(`agents.{previous.agent}.{key}: handoff`)."
    )


def with_kept(handoff: Handoff | None, rec: RunRecord, *, kept: bool) -> Handoff:
    """The next agent after a stop at a limit continues the stopped one's work."""
    base = handoff or Handoff(task_ref=f"issue #{rec.number}")
    if kept:
        note = (
            f"`{rec.agent}` was stopped at its limit before it finished; what it wrote is "
            "committed on this branch, where you continue. Finish the task."
        )
    else:
        note = f"`{rec.agent}` was stopped at its limit before it wrote anything."
    return replace(base, earlier_runs=(*base.earlier_runs, rec), notes=(*base.notes, note))


def chain_failure(failures: list[str]) -> str:
    return failures[-1] if len(failures) == 1 else " Then: ".join(failures)


def with_failed(handoff: Handoff | None, rec: RunRecord, left_behind: str = "") -> Handoff:
    """The next agent in a fallback chain hears what the failed one did, and sees what it had
    changed when it stopped (not kept: the next agent starts from the same point)."""
    base = handoff or Handoff(task_ref=f"issue #{rec.number}")
    notes = base.notes
    if left_behind.strip():
        diff = left_behind[:MAX_LEFT_BEHIND_CHARS] + (
            "\n[truncated]" if len(left_behind) > MAX_LEFT_BEHIND_CHARS else ""
        )
        note = (
            f"What `{rec.agent}` had changed when it stopped (not kept; you start from the same "
            f"point):\n\n```diff\n{diff}\n```\n"
        )
        notes = (*notes, note)
    return replace(base, earlier_runs=(*base.earlier_runs, rec), notes=notes)


def earlier_runs(
    rows: Iterable[RunRecord], *, current: str, job_id: int | None, on_pull: set[str]
) -> list[RunRecord]:
    """Every finished run that went into this PR: earlier jobs' runs on it (`on_pull`), and the
    agents of this job's chain that did not succeed (their cost counts too)."""
    chosen = {
        r.id: r
        for r in rows
        if (r.id in on_pull or r.job_id == job_id)
        and r.id != current
        and r.agent
        and r.status not in UNFINISHED
    }
    return sorted(chosen.values(), key=lambda r: r.created_at)
