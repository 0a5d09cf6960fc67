"""`budget.approve_above_usd`: a run whose cost cap is above it does not start; it ends its job
as "awaiting approval" (holding no worker, no lock, no reservation) until `/agent approve`
queues it again (`bot/approve.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.budget import set_by
from bot.run.status import post_status

if TYPE_CHECKING:
    from bot.github import RepoGitHub
    from bot.plan import RunPlan
    from bot.run.state import RunState
    from config.merge import Effective

APPROVE_KEY = "budget.approve_above_usd"
# Approving a run needs at least this permission on the repository.
APPROVER_PERMISSION = "maintain"


def needs_approval(plan: RunPlan, effective: Effective, state: RunState) -> bool:
    """The run's cap (no cap at all counts as above) exceeds the threshold, and no one has
    approved this much yet."""
    threshold = effective.config.budget.approve_above_usd
    cap = plan.limits.max_cost_usd
    if threshold is None or (cap is not None and cap <= threshold):
        return False
    approved = state.trigger.approved_cap_usd
    return state.trigger.approved_by is None or (
        approved is not None and (cap is None or cap > approved + 1e-9)
    )


def waiting_text(plan: RunPlan, effective: Effective, *, requester: str, command: str) -> str:
    cap = plan.limits.max_cost_usd
    threshold = effective.config.budget.approve_above_usd
    spend = f"up to ${cap:.4f} (its cap: {plan.cost_cap_by})" if cap is not None else "with no cap"
    return (
        f"`{plan.agent}` would run {spend}, above ${threshold or 0:.4f} "
        f"({set_by(APPROVE_KEY, effective.sources)}), so it waits for approval. Someone with "
        f"maintain or admin permission comments `{command} approve` to start it, or "
        f"`{command} deny` to end it; @{requester} cannot approve their own run unless they are "
        "an admin. Nothing runs or is held meanwhile."
    )


async def wait_for_approval(
    state: RunState, gh: RepoGitHub, plan: RunPlan, effective: Effective
) -> None:
    """End this job with the run waiting: its row, its status comment, and the trigger kept in
    its event log for the approval to queue again."""
    t = state.trigger
    text = waiting_text(
        plan, effective, requester=t.requester, command=state.services.settings.command
    )
    await state.save(
        status=RunStatus.AWAITING_APPROVAL,
        agent=plan.agent,
        adapter=plan.spec.adapter,
        model=plan.spec.model,
        cost_cap_usd=plan.limits.max_cost_usd,
        cost_cap_by=plan.cost_cap_by,
        label=t.label or "",
        error=text,
    )
    await state.event(
        "awaiting_approval",
        cost_cap_usd=plan.limits.max_cost_usd,
        trigger=t.model_dump(mode="json"),
    )
    await post_status(state, gh, detail=text)
    if t.kind == "label" and t.label:
        await gh.remove_label(t.number, t.label)
