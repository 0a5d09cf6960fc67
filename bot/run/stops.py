"""What Baton says about a run stopped at its cost cap or its timeout (pure): the cost, the cap
and the layer that set it, where the work went, and the command that picks it up."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.budget import how_to_raise
from bot.render import format_cost, format_duration

if TYPE_CHECKING:
    from bot.ledger import RunRecord
    from bot.plan import RunPlan
    from config.schema import AgentSpec

# Where an agent stopped before it finished and its work so far is kept (committed, pushed, a
# draft PR): its cost cap, its timeout, or the org's pause (`cancel_running`; a person's
# `/agent cancel` ends the whole job instead, and pushes nothing).
LIMITS = frozenset({RunStatus.BUDGET, RunStatus.TIMED_OUT, RunStatus.CANCELLED})
HEADLINES = {
    RunStatus.BUDGET: ("💸", "Stopped at budget"),
    RunStatus.TIMED_OUT: ("⏱️", "Timed out"),
    RunStatus.CANCELLED: ("🛑", "Stopped by the org's pause"),
}


def is_limit(status: str) -> bool:
    return status in LIMITS


def limit_action(spec: AgentSpec, status: str) -> str:
    """What the agent does at the limit it stopped at: its `on_timeout` or `on_budget` (the
    org's pause stops everything)."""
    if status == RunStatus.CANCELLED:
        return "stop"
    return spec.on_timeout if status == RunStatus.TIMED_OUT else spec.on_budget


def _more_money(cap: float | None) -> str:
    """A cap worth suggesting: twice this one, in cents (at least a cent)."""
    return f"{max(math.ceil((cap or 0.0) * 200) / 100, 0.01):.2f}"


def _more_time(seconds: float) -> str:
    return f"{max(math.ceil(seconds * 2 / 60), 1)}m"


def continue_command(*, command: str, status: str, plan: RunPlan) -> str:
    """The command that resumes the stopped agent with more room."""
    if status == RunStatus.TIMED_OUT:
        return f"`{command} continue --timeout={_more_time(plan.limits.timeout_s)}`"
    return f"`{command} continue --max-cost={_more_money(plan.limits.max_cost_usd)}`"


def stop_text(
    *,
    rec: RunRecord,
    plan: RunPlan,
    command: str,
    kept: bool,
) -> str:
    """The ledger row's, the status comment's and the PR's account of the stop."""
    cost = format_cost(rec.cost_usd, rec.cost_source, rec.price_date)
    if rec.status == RunStatus.CANCELLED:
        where = (
            "Its work so far is kept in a draft pull request."
            if kept
            else ("It had written nothing, so nothing was pushed.")
        )
        return (
            f"{rec.error} `{rec.agent}` had cost {cost}. {where} Once the pause is lifted, "
            f"`{command} continue` picks it up where it stopped."
        )
    cap = plan.limits.max_cost_usd
    cap_text = f"${cap:.4f}, set by {plan.cost_cap_by}" if cap is not None else "no cap"
    if rec.status == RunStatus.TIMED_OUT:
        what = (
            f"`{rec.agent}` timed out: it ran out of its {format_duration(plan.limits.timeout_s)}"
            f" ({plan.timeout_by}), having cost {cost} (its cost cap: {cap_text})."
        )
        raise_key = f"agents.{rec.agent}.timeout"
    else:
        what = (
            f"`{rec.agent}` stopped at its cost limit: it had cost {cost} against a cap of "
            f"{cap_text}."
        )
        raise_key = plan.cost_cap_key
    more = continue_command(command=command, status=rec.status, plan=plan)
    if kept:
        where = "Its work so far is kept in a draft pull request."
    else:
        where = "It had written nothing, so nothing was pushed and no pull request was opened."
    how = (
        f"To pick up where it stopped, comment `{command} continue` (same limits) or {more}; "
        f"`{command} retry` starts another attempt."
    )
    if raise_key:
        how += f" To give later runs more room, {how_to_raise(raise_key, plan.sources)}."
    return f"{what} {where} {how}"


def pr_note(rec: RunRecord) -> str:
    """The PR body's first lines while its last run is a stopped one."""
    if not is_limit(rec.status):
        return ""
    icon, headline = HEADLINES[RunStatus(rec.status)]
    return f"> {icon} **{headline}.** {rec.error}"
