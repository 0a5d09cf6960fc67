"""`fix` and `retry`: plan the run, find its target, then let the route's agents try in turn
(the fallback chain) until one delivers."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.plan import Refusal, plan_run
from bot.run import decide
from bot.run.attempt import Attempt, RunFailed, attempt, detail_text
from bot.run.context import gather_handoff
from bot.run.status import post_status, refuse
from bot.run.target import resolve_target, task_of
from bot.store.spend import monthly_spend

if TYPE_CHECKING:
    from bot.github import RepoGitHub
    from bot.plan import Spend
    from bot.run.state import RunState
    from bot.trigger import Trigger
    from config.merge import Effective


async def spend_now(state: RunState) -> Spend:
    """This month's spend that the run's budgets count."""
    s, t = state.services, state.trigger
    return await monthly_spend(
        s.store, repo=t.repo, owner=t.owner, requester=t.requester, now=s.clock()
    )


async def acknowledge(gh: RepoGitHub, t: Trigger) -> None:
    """👀 on the triggering comment, or on the issue itself for a label (a courtesy: a reaction
    GitHub refuses is skipped)."""
    if t.comment_id is not None:
        await gh.react_comment(t.comment_id, "eyes", review=t.comment_kind == "review")
    else:
        await gh.react_issue(t.number, "eyes")


async def run_fix(state: RunState, gh: RepoGitHub, effective: Effective) -> None:
    """Plan, target, then each agent of `[agent, *fallback]` until one delivers; RunFailed with
    every agent's reason when none did."""
    s, t = state.services, state.trigger
    config = effective.config
    plan = plan_run(
        trigger=decide.routed(t, s.settings.label_prefix),
        config=config,
        paths=decide.task_paths(t),
        spend=await spend_now(state),
    )
    if isinstance(plan, Refusal):
        await refuse(state, gh, plan)
        return
    state.notes.limit = decide.capped_flag_note(state.command, plan)
    target = await resolve_target(state, gh)
    if isinstance(target, Refusal):
        await refuse(state, gh, target)
        return
    state.task = await task_of(state, gh, target)
    if state.rec.status in {RunStatus.QUEUED, RunStatus.REFUSED}:
        await state.save(status=RunStatus.RUNNING, started_at=time.time())
    await acknowledge(gh, t)
    if t.kind == "label" and t.label:
        await gh.remove_label(t.number, t.label)
    token = await s.github.token(t.installation_id, (t.name,))
    handoff = await gather_handoff(state, gh, target, token, config)
    chain = [plan.agent, *plan.fallback]
    failures: list[str] = []
    for index, agent in enumerate(chain):
        if index > 0:
            await state.next_agent(index)
        if state.rec.status in decide.FAILED:
            failures.append(state.rec.error)  # an earlier job attempt already tried this one
            handoff = decide.with_failed(handoff, state.rec)
            continue
        step = replace(plan, agent=agent, spec=config.agents[agent])
        await state.save(
            agent=agent,
            adapter=step.spec.adapter,
            model=step.spec.model,
            network=step.spec.sandbox.network,
            status=RunStatus.RUNNING,
            started_at=state.rec.started_at or time.time(),
        )
        await state.event(
            "started",
            agent=agent,
            adapter=step.spec.adapter,
            model=step.spec.model,
            network=step.spec.sandbox.network,
            attempt=state.ctx.attempt,
        )
        if index > 0:
            state.notes.handover = decide.handover_text(chain[index - 1], failures[-1], agent)
        await post_status(state, gh, detail=detail_text(state, handoff))
        left = Attempt()
        outcome = await attempt(state, gh, step, target, token, handoff=handoff, into=left)
        if outcome is None:
            return
        failures.append(outcome)
        handoff = decide.with_failed(handoff, state.rec, left.left_behind)
    raise RunFailed(decide.chain_failure(failures))
