"""`fix`, `retry` and `continue`: plan the run, find its target, then let the route's agents try
in turn (the fallback chain) until one delivers, or one stops at its limit with its work kept."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.estimate import WINDOW, alike_text, estimate_text
from bot.plan import Refusal, plan_agent, plan_run
from bot.run import decide, pause
from bot.run.approval import needs_approval, wait_for_approval
from bot.run.attempt import Attempt, Outcome, RunFailed, attempt, detail_text
from bot.run.budget import release, remember_caps, reserve
from bot.run.context import gather_handoff
from bot.run.status import post_status, refuse
from bot.run.stops import is_limit, limit_action
from bot.run.target import Target, fork_note, resolve_target, task_of

if TYPE_CHECKING:
    from bot.github import InstallationToken, RepoGitHub
    from bot.handoff import Handoff
    from bot.plan import RunPlan
    from bot.run.state import RunState
    from bot.trigger import Trigger
    from config.merge import Effective


async def acknowledge(gh: RepoGitHub, t: Trigger) -> None:
    """👀 on the triggering comment, or on the issue itself for a label (a courtesy: a reaction
    GitHub refuses is skipped)."""
    if t.comment_id is not None:
        await gh.react_comment(t.comment_id, "eyes", review=t.comment_kind == "review")
    else:
        await gh.react_issue(t.number, "eyes")


async def estimate(state: RunState, agent: str) -> str:
    """What the last runs of `agent` here for the same label (or verb) cost and took."""
    s, t = state.services, state.trigger
    label = t.label or ""
    rows = await s.store.history(repo=t.repo, agent=agent, label=label, verb=t.verb, limit=WINDOW)
    alike = alike_text(label=label, verb=t.verb, command=s.settings.command)
    return estimate_text(rows, agent=agent, alike=alike)


async def plan_first(
    state: RunState, effective: Effective, *, agent: str | None = None
) -> RunPlan | Refusal:
    """The route's agent (or `agent`) and its limits, its cap reserved against the budgets."""
    s, t = state.services, state.trigger
    trigger = decide.routed(t, s.settings.label_prefix)
    if agent is not None:
        trigger = trigger.model_copy(update={"agent": agent, "kind": "command"})
    return await reserve(
        state,
        lambda spend: plan_run(
            trigger=trigger,
            config=effective.config,
            paths=decide.task_paths(t),
            spend=spend,
            sources=effective.sources,
            now=s.clock(),
        ),
    )


async def plan_next(state: RunState, effective: Effective, agent: str) -> RunPlan | Refusal:
    """A fallback agent's own limits, on the budgets as they are now (the agent before it has
    spent), its cap reserved under its own row."""
    s = state.services
    return await reserve(
        state,
        lambda spend: plan_agent(
            agent=agent,
            fallback=(),
            trigger=state.trigger,
            config=effective.config,
            spend=spend,
            sources=effective.sources,
            now=s.clock(),
        ),
    )


async def run_fix(
    state: RunState, gh: RepoGitHub, effective: Effective, *, agent: str | None = None
) -> None:
    """Plan, target, then each agent of `[agent, *fallback]` until one delivers; RunFailed with
    every agent's reason when none did. `agent` runs instead of the route's (`continue`)."""
    s, t = state.services, state.trigger
    plan = await plan_first(state, effective, agent=agent)
    # A refused run saw the caps too: `baton spend` shows the ones that refuse it.
    await remember_caps(state, effective)
    if isinstance(plan, Refusal):
        await refuse(state, gh, plan)
        return
    if needs_approval(plan, effective, state):
        await release(state)  # a waiting run holds nothing
        await acknowledge(gh, t)
        await wait_for_approval(state, gh, plan, effective)
        return
    if t.approved_by:
        state.notes.approval = f"Approved by @{t.approved_by}."
    state.notes.limit = decide.capped_flag_note(state.command, plan)
    target = await resolve_target(state, gh)
    if isinstance(target, Refusal):
        await release(state)
        await refuse(state, gh, target)
        return
    state.notes.target = fork_note(target)
    state.task = await task_of(state, gh, target)
    if state.rec.status in {RunStatus.QUEUED, RunStatus.REFUSED}:
        await state.save(status=RunStatus.RUNNING, started_at=time.time())
    await acknowledge(gh, t)
    if t.kind == "label" and t.label:
        await gh.remove_label(t.number, t.label)
    token = await s.github.token(t.installation_id, (t.name,))
    handoff = await gather_handoff(state, gh, target, token, effective.config)
    state.notes.estimate = await estimate(state, plan.agent)
    await run_chain(state, gh, effective, plan=plan, target=target, token=token, handoff=handoff)


async def run_chain(
    state: RunState,
    gh: RepoGitHub,
    effective: Effective,
    *,
    plan: RunPlan,
    target: Target,
    token: InstallationToken,
    handoff: Handoff | None,
) -> None:
    """Each agent of the chain in turn. One that fails hands over to the next from the same
    point; one stopped at its limit keeps its work in a draft PR, and hands over from there
    only with its `on_budget`/`on_timeout: handoff`."""
    chain = [plan.agent, *plan.fallback]
    failures: list[str] = []
    for index, name in enumerate(chain):
        step = plan
        if index > 0:
            await state.next_agent(index)
            planned = await plan_next(state, effective, name)
            if isinstance(planned, Refusal):
                failures.append(planned.reason)
                break
            step = planned
        outcome, left_behind = _earlier_outcome(state), ""
        if outcome is None:
            outcome, left_behind = await _one(
                state,
                gh,
                step=step,
                target=target,
                token=token,
                handoff=handoff,
                next_agent=index < len(chain) - 1,
            )
        await release(state)
        if outcome.delivered:
            return
        failures.append(outcome.reason)
        last = index == len(chain) - 1
        if outcome.limit:
            if limit_action(step.spec, outcome.limit) == "stop" or last:
                if outcome.kept:
                    return  # the draft PR and the status comment say where the work is
                raise RunFailed(outcome.reason)
            state.notes.handover = decide.limit_handover_text(
                state.rec, chain[index + 1], kept=outcome.kept
            )
            handoff = decide.with_kept(handoff, state.rec, kept=outcome.kept)
            if outcome.kept:
                target = await _continued(gh, target, state.rec.pr_number)
            continue
        if not last:
            state.notes.handover = decide.handover_text(name, outcome.reason, chain[index + 1])
        handoff = decide.with_failed(handoff, state.rec, left_behind)
    raise RunFailed(decide.chain_failure(failures))


def _earlier_outcome(state: RunState) -> Outcome | None:
    """How this agent's run ended in an earlier attempt of the job, if it did (None: run it,
    or finish delivering work it committed at its limit)."""
    rec = state.rec
    if is_limit(rec.status) and rec.finished_at is not None:
        if rec.commit_sha and rec.check_run_id is None:
            return None  # committed at its limit, not yet delivered: `attempt` delivers it
        return Outcome(reason=rec.error, limit=rec.status, kept=bool(rec.commit_sha))
    if rec.status in decide.FAILED:
        return Outcome(reason=rec.error)
    return None


async def _one(
    state: RunState,
    gh: RepoGitHub,
    *,
    step: RunPlan,
    target: Target,
    token: InstallationToken,
    handoff: Handoff | None,
    next_agent: bool,
) -> tuple[Outcome, str]:
    """One agent's attempt, with its row and the status comment saying it started; and what
    it left in its worktree when it failed (for the next agent's brief)."""
    t = state.trigger
    if is_limit(state.rec.status) and state.rec.commit_sha:
        # Work committed at its limit by an earlier attempt of this job: deliver it as such.
        outcome = await attempt(state, gh, step, target, token, handoff=handoff)
        return outcome, ""
    await state.save(
        agent=step.agent,
        adapter=step.spec.adapter,
        model=step.spec.model,
        network=step.spec.sandbox.network,
        status=RunStatus.RUNNING,
        started_at=state.rec.started_at or time.time(),
        label=t.label or "",
        cost_cap_usd=step.limits.max_cost_usd,
        cost_cap_by=step.cost_cap_by,
    )
    await state.event(
        "started",
        agent=step.agent,
        adapter=step.spec.adapter,
        model=step.spec.model,
        network=step.spec.sandbox.network,
        attempt=state.ctx.attempt,
        cost_cap_usd=step.limits.max_cost_usd,
    )
    await post_status(state, gh, detail=detail_text(state, handoff))
    left = Attempt()
    outcome = await attempt(
        state,
        gh,
        step,
        target,
        token,
        handoff=handoff,
        into=left,
        next_agent=next_agent,
        look=pause.watch(state, gh),
    )
    return outcome, left.left_behind


async def _continued(gh: RepoGitHub, target: Target, pr_number: int | None) -> Target:
    """The target after a stop kept its work: the same branch, from its new head, with the
    draft PR it opened or updated."""
    pr = await gh.get_pull(pr_number) if pr_number is not None else target.pr
    return replace(target, start=target.branch, pr=pr, fresh=False)
