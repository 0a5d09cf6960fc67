"""`budget.approve_above_usd`: a run whose cost cap is above it does not start; it ends its job
as "awaiting approval" (holding no worker, no lock, no reservation) until `/agent approve`
queues it again (`bot/approve.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.budget import set_by
from bot.run.status import post_status

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.github import RepoGitHub
    from bot.plan import RunPlan
    from bot.run.state import RunState
    from bot.trigger import Trigger
    from config.merge import Effective

APPROVE_KEY = "budget.approve_above_usd"
# Approving a run needs at least this permission on the repository.
APPROVER_PERMISSION = "maintain"


def over_threshold(cap: float | None, effective: Effective, trigger: Trigger) -> bool:
    """`cap` (None: no cap at all, which counts as above) exceeds the threshold, and no one has
    approved this much yet. Pure."""
    threshold = effective.config.budget.approve_above_usd
    if threshold is None or (cap is not None and cap <= threshold):
        return False
    approved = trigger.approved_cap_usd
    return trigger.approved_by is None or (
        approved is not None and (cap is None or cap > approved + 1e-9)
    )


def needs_approval(plan: RunPlan, effective: Effective, state: RunState) -> bool:
    """The run's cap is above the threshold, and no one has approved this much yet."""
    return over_threshold(plan.limits.max_cost_usd, effective, state.trigger)


def compare_cap(plans: Sequence[RunPlan]) -> float | None:
    """What a comparison may spend: every contestant's cap together (None if one has none)."""
    caps = [p.limits.max_cost_usd for p in plans]
    return None if any(c is None for c in caps) else sum(c or 0.0 for c in caps)


def _up_to(cap: float | None) -> str:
    return f"up to ${cap:.4f}" if cap is not None else "with no cap"


def _who_answers(effective: Effective, *, requester: str, command: str) -> str:
    threshold = effective.config.budget.approve_above_usd
    return (
        f"above ${threshold or 0:.4f} ({set_by(APPROVE_KEY, effective.sources)}), so it waits "
        f"for approval. Someone with maintain or admin permission comments `{command} approve` "
        f"to start it, or `{command} deny` to end it; @{requester} cannot approve their own run "
        "unless they are an admin. Nothing runs or is held meanwhile."
    )


def waiting_text(plan: RunPlan, effective: Effective, *, requester: str, command: str) -> str:
    cap = plan.limits.max_cost_usd
    spend = f"up to ${cap:.4f} (its cap: {plan.cost_cap_by})" if cap is not None else "with no cap"
    ask = _who_answers(effective, requester=requester, command=command)
    return f"`{plan.agent}` would run {spend}, {ask}"


def compare_waiting_text(
    plans: Sequence[RunPlan], effective: Effective, *, requester: str, command: str
) -> str:
    each = ", ".join(f"`{p.agent}` {_up_to(p.limits.max_cost_usd)}" for p in plans)
    spend = f"{_up_to(compare_cap(plans))} together"
    ask = _who_answers(effective, requester=requester, command=command)
    return f"This comparison would run {spend} ({each}), {ask}"


async def wait_for_approval(
    state: RunState, gh: RepoGitHub, plan: RunPlan, effective: Effective
) -> None:
    """End this job with the run waiting: its row, its status comment, and the trigger kept in
    its event log for the approval to queue again."""
    t = state.trigger
    text = waiting_text(
        plan, effective, requester=t.requester, command=state.services.settings.command
    )
    await _wait(
        state,
        gh,
        text=text,
        cap=plan.limits.max_cost_usd,
        agent=plan.agent,
        adapter=plan.spec.adapter,
        model=plan.spec.model,
        cost_cap_by=plan.cost_cap_by,
    )


async def wait_for_compare_approval(
    state: RunState, gh: RepoGitHub, plans: Sequence[RunPlan], effective: Effective
) -> None:
    """The same for a comparison, whose contestants together may spend above the threshold:
    the comparison's own row waits (its contestants have none yet)."""
    t = state.trigger
    text = compare_waiting_text(
        plans, effective, requester=t.requester, command=state.services.settings.command
    )
    await _wait(
        state, gh, text=text, cap=compare_cap(plans), cost_cap_by="the agents' caps together"
    )


async def _wait(
    state: RunState, gh: RepoGitHub, *, text: str, cap: float | None, **row: object
) -> None:
    t = state.trigger
    await state.save(
        status=RunStatus.AWAITING_APPROVAL,
        cost_cap_usd=cap,
        label=t.label or "",
        error=text,
        **row,
    )
    await state.event("awaiting_approval", cost_cap_usd=cap, trigger=t.model_dump(mode="json"))
    await post_status(state, gh, detail=text)
    if t.kind == "label" and t.label:
        await gh.remove_label(t.number, t.label)
