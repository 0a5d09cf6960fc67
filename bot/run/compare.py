"""`/agent compare A B [C]`: agents race on one issue, each on its own branch with a draft PR,
and one comment compares them side by side."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot import gitops
from bot.plan import Refusal, RunPlan, plan_run
from bot.render import format_cost, format_duration
from bot.run import pause
from bot.run.approval import compare_cap, over_threshold, wait_for_compare_approval
from bot.run.attempt import Attempt, RunFailed, attempt
from bot.run.budget import release, remember_caps, reserve
from bot.run.chain import acknowledge
from bot.run.state import RunState
from bot.run.status import announce_end, post_status, refuse
from bot.run.target import Target

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bot.budget import Spend
    from bot.github import InstallationToken, RepoGitHub
    from bot.trigger import Trigger
    from config.merge import Effective
    from config.schema import AgentsConfig

COMPARE_MARKER = "<!-- baton:compare {run_id} -->"


async def run_compare(state: RunState, gh: RepoGitHub, effective: Effective) -> None:
    """Plan every contestant first (one refusal stops all), then run them in parallel."""
    t, config = state.trigger, effective.config
    agents = state.cmd.agents if state.cmd is not None else ()
    if t.is_pull_request:
        await refuse(state, gh, Refusal("`compare` works on issues: each agent opens its own PR."))
        return
    contestants = [await RunState.open(state.services, t, state.ctx, contestant=a) for a in agents]
    await remember_caps(state, effective)
    plans: list[RunPlan] = []
    for agent, contestant in zip(agents, contestants, strict=True):
        trigger = t.model_copy(update={"agent": agent})
        plan = await reserve(contestant, _planner(trigger, effective, state.services.clock()))
        if isinstance(plan, Refusal):
            for planned in contestants:
                await release(planned)
            await refuse(state, gh, plan)
            return
        plans.append(replace(plan, policy=plan.policy.model_copy(update={"draft": True})))
    if over_threshold(compare_cap(plans), effective, t):
        # What the comparison may spend together is what a maintainer approves.
        for contestant in contestants:
            await release(contestant)
        await acknowledge(gh, t)
        await wait_for_compare_approval(state, gh, plans, effective)
        return
    await acknowledge(gh, t)
    token = await state.services.github.token(t.installation_id, (t.name,))
    results = [Attempt() for _ in agents]
    await asyncio.gather(
        *(
            _contest(c, gh, plan, token, config, into=into)
            for c, plan, into in zip(contestants, plans, results, strict=True)
        )
    )
    for contestant in contestants:
        await contestant.close_live()
    with_verify = config.verify is not None
    await _comparison_comment(
        state, gh, list(zip(contestants, results, strict=True)), with_verify=with_verify
    )
    if t.approved_by:
        # The comparison's own row waited for the approval: it ends with the race.
        await state.save(status=RunStatus.SUCCESS, error="", finished_at=time.time())
        detail = f"Approved by @{t.approved_by}. The agents' draft PRs are compared below."
        await announce_end(state, gh, reason="", detail=detail)


def _planner(
    trigger: Trigger, effective: Effective, now: float
) -> Callable[[Spend], RunPlan | Refusal]:
    def plan(spend: Spend) -> RunPlan | Refusal:
        return plan_run(
            trigger=trigger,
            config=effective.config,
            paths=[],
            spend=spend,
            sources=effective.sources,
            now=now,
        )

    return plan


async def _contest(
    run: RunState,
    gh: RepoGitHub,
    plan: RunPlan,
    token: InstallationToken,
    config: AgentsConfig,
    *,
    into: Attempt,
) -> None:
    if run.rec.status == RunStatus.SUCCESS or run.rec.error:
        return  # an earlier attempt of this job finished this contestant
    t = run.trigger
    branch = f"{gitops.branch_name(t.number, t.title)}-{run.contestant}"
    pr = await gh.find_pull(branch)
    target = Target(
        branch=branch,
        start=branch if pr else t.default_branch,
        pr=pr,
        issue_number=t.number,
        title=f"{t.title} ({run.contestant})",
    )
    await run.save(
        agent=plan.agent,
        adapter=plan.spec.adapter,
        model=plan.spec.model,
        status=RunStatus.RUNNING,
        started_at=run.rec.started_at,
    )
    await post_status(run, gh, detail="Racing in `/agent compare`.")
    try:
        outcome = await attempt(
            run,
            gh,
            plan,
            target,
            token,
            handoff=None,
            verify=config.verify,
            into=into,
            look=pause.watch(run, gh),
        )
        # A contestant stopped at its limit keeps its draft PR, like one that delivered.
        reason = None if outcome.delivered or outcome.kept else outcome.reason
    except RunFailed as exc:
        reason = str(exc)
        await run.event("ended", status=RunStatus.FAILED, reason=reason)
    finally:
        await release(run)
    if reason is not None:
        status = run.rec.status if run.rec.status != RunStatus.RUNNING else RunStatus.FAILED
        await run.save(status=status, error=reason)
        await post_status(run, gh, detail=reason)


def _row(run: RunState, result: Attempt, *, with_verify: bool) -> str:
    r = run.rec
    files, added, removed = result.diffstat or (0, 0, 0)
    outcome = f"[#{r.pr_number}]({r.pr_url})" if r.pr_number else r.status
    verify = ""
    if with_verify:
        verify = {True: " ✅ |", False: " ❌ |", None: " - |"}[result.verify_passed]
    return (
        f"| `{run.contestant}` | {r.model or '-'} | "
        f"{format_cost(r.cost_usd, r.cost_source, r.price_date)} | "
        f"{format_duration(r.duration_s)} | {files} | +{added} -{removed} |{verify} {outcome} |"
    )


async def _comparison_comment(
    state: RunState,
    gh: RepoGitHub,
    contestants: Sequence[tuple[RunState, Attempt]],
    *,
    with_verify: bool,
) -> None:
    head = "| agent | model | cost | duration | files | lines |"
    rule = "|---|---|---|---|---|---|"
    if with_verify:
        head += " verify |"
        rule += "---|"
    t = state.trigger
    marker = COMPARE_MARKER.format(run_id=state.rec.id)
    lines = [
        marker,
        f"**Baton** · compare on #{t.number}: {len(contestants)} agents, one draft PR each.",
        "",
        head + " result |",
        rule + "---|",
        *(_row(c, r, with_verify=with_verify) for c, r in contestants),
    ]
    failed = [c for c, _ in contestants if c.rec.error]
    lines += [f"\n`{c.contestant}`: {c.rec.error}" for c in failed]
    body = "\n".join(lines)
    found = await gh.find_comment(t.number, marker) if state.ctx.attempt > 1 else None
    if found is not None:
        await gh.edit_comment(found.id, body)
    else:
        await gh.comment(t.number, body)
    if len(failed) == len(contestants):
        raise RunFailed("every agent in the comparison failed; see the comparison above")
