"""Budgets at the start and end of each agent's run (I/O around `bot.budget`): spend read from
the ledger, the cap decided and reserved in one critical section held across processes, the
reservation released when the agent stops."""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

from bot.budget import Spend, where
from bot.plan import RunPlan
from bot.store.base import BudgetCap, Reservation, claimed
from bot.store.spend import monthly_spend

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.plan import Refusal
    from bot.run.state import RunState
    from config.merge import Effective

# Held while a run reads what is left of its budgets and reserves its cap: two runs never both
# count the same remainder. One key for every budget (requesters' span organizations); it is
# held for a few reads and a write.
BUDGET_CLAIM = "budget"
BUDGET_CLAIM_TTL_S = 30.0
# A reservation outlives its run's limit by this much before it stops counting (a worker that
# died mid-run cannot hold a budget for ever).
RESERVATION_MARGIN_S = 600.0


async def spend_now(state: RunState) -> Spend:
    """This month's spend that the run's budgets count, and what running runs hold."""
    s, t = state.services, state.trigger
    now = s.clock()
    spent = await monthly_spend(s.store, repo=t.repo, owner=t.owner, requester=t.requester, now=now)
    store = s.store
    return Spend(
        repo_month=spent.repo_month,
        owner_month=spent.owner_month,
        requester_month=spent.requester_month,
        repo_held=await store.held(now=now, repo=t.repo),
        owner_held=await store.held(now=now, owner=t.owner),
        requester_held=await store.held(now=now, requester=t.requester),
    )


async def reserve(
    state: RunState, decide: Callable[[Spend], RunPlan | Refusal]
) -> RunPlan | Refusal:
    """`decide` on this month's spend and holds, and reserve the planned cap against every
    monthly budget that applies, all while holding the budget claim."""
    s, t = state.services, state.trigger
    owner = f"{os.getpid()}-{uuid.uuid4().hex}"
    async with claimed(s.store, BUDGET_CLAIM, owner=owner, ttl_s=BUDGET_CLAIM_TTL_S):
        await s.store.expire_reservations(now=s.clock())
        # A run planned again (its job taken up after a restart, a crash or a database outage)
        # replaces what it reserved before: its own hold is not spent against it.
        await s.store.release_reservation(state.rec.id)
        plan = decide(await spend_now(state))
        cap = plan.limits.max_cost_usd if isinstance(plan, RunPlan) else None
        if isinstance(plan, RunPlan) and plan.budgets and cap is not None:
            now = s.clock()
            await s.store.reserve(
                Reservation(
                    run_id=state.rec.id,
                    repo=t.repo,
                    owner=t.owner,
                    requester=t.requester,
                    amount_usd=cap,
                    created_at=now,
                    expires_at=now + plan.limits.timeout_s + RESERVATION_MARGIN_S,
                )
            )
    return plan


async def release(state: RunState) -> None:
    """The agent has stopped: its row's cost is what counts from now on."""
    await state.services.store.release_reservation(state.rec.id)


async def remember_caps(state: RunState, effective: Effective) -> None:
    """The monthly caps this run's scopes are under, for `baton spend` to show."""
    s, t = state.services, state.trigger
    b, sources, now = effective.config.budget, effective.sources, s.clock()
    requester_key = "budget.per_requester_monthly_usd"
    scopes = [
        ("repo", t.repo, "budget.monthly_usd", b.monthly_usd),
        ("org", t.owner, "budget.org_monthly_usd", b.org_monthly_usd),
        ("requester", t.requester, requester_key, b.per_requester_monthly_usd),
    ]
    for scope, name, key, limit in scopes:
        source = f"`{key}` ({where(key, sources)})" if limit is not None else "no cap set"
        cap = BudgetCap(scope=scope, name=name, limit_usd=limit, source=source, seen_at=now)
        await s.store.record_cap(cap)
