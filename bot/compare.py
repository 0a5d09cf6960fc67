"""`/agent compare A B [C]`: agents race on one issue, each on its own branch with a draft PR,
and one comment compares them side by side."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from bot import gitops
from bot.lifecycle import Run, RunFailed, Target
from bot.plan import Refusal, RunPlan, plan_run
from bot.render import format_cost, format_duration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.github import InstallationToken, RepoGitHub
    from config.schema import AgentsConfig

COMPARE_MARKER = "<!-- baton:compare {run_id} -->"


async def run_compare(
    run: Run, gh: RepoGitHub, config: AgentsConfig, agents: Sequence[str]
) -> None:
    """Plan every contestant first (one refusal stops all), then run them in parallel."""
    if run.t.is_pull_request:
        await run.refuse(gh, Refusal("`compare` works on issues: each agent opens its own PR."))
        return
    plans: list[RunPlan] = []
    for agent in agents:
        trigger = run.t.model_copy(update={"agent": agent})
        plan = plan_run(trigger=trigger, config=config, paths=[], spend=run._spend())
        if isinstance(plan, Refusal):
            await run.refuse(gh, plan)
            return
        plans.append(replace(plan, policy=plan.policy.model_copy(update={"draft": True})))
    await run._acknowledge(gh)
    token = await run.s.github.token(run.t.installation_id, (run.t.name,))
    contestants = [Run(run.s, run.t, run.ctx, contestant=agent) for agent in agents]
    await asyncio.gather(
        *(_contest(c, gh, plan, token, config) for c, plan in zip(contestants, plans, strict=True))
    )
    await _comparison_comment(run, gh, contestants, with_verify=config.verify is not None)


async def _contest(
    run: Run, gh: RepoGitHub, plan: RunPlan, token: InstallationToken, config: AgentsConfig
) -> None:
    if run.rec.status == "success" or run.rec.error:
        return  # an earlier attempt of this job finished this contestant
    branch = f"{gitops.branch_name(run.t.number, run.t.title)}-{run.contestant}"
    pr = await gh.find_pull(branch)
    target = Target(
        branch=branch, start=branch if pr else run.t.default_branch, pr=pr,
        issue_number=run.t.number, title=f"{run.t.title} ({run.contestant})",
    )  # fmt: skip
    run.save(agent=plan.agent, adapter=plan.spec.adapter, model=plan.spec.model,
             status="running", started_at=run.rec.started_at)  # fmt: skip
    await run.status(gh, detail="Racing in `/agent compare`.")
    try:
        reason = await run._attempt(gh, plan, target, token, handoff=None, verify=config.verify)
    except RunFailed as exc:
        reason = str(exc)
    if reason is not None:
        run.save(status=run.rec.status if run.rec.status != "running" else "failed",
                 error=reason)  # fmt: skip
        await run.status(gh, detail=reason)


def _row(run: Run, *, with_verify: bool) -> str:
    r = run.rec
    files, added, removed = run.diffstat or (0, 0, 0)
    outcome = f"[#{r.pr_number}]({r.pr_url})" if r.pr_number else r.status
    verify = ""
    if with_verify:
        verify = {True: " ✅ |", False: " ❌ |", None: " - |"}[run.verify_passed]
    return (
        f"| `{run.contestant}` | {r.model or '-'} | "
        f"{format_cost(r.cost_usd, r.cost_source, r.price_date)} | "
        f"{format_duration(r.duration_s)} | {files} | +{added} -{removed} |{verify} {outcome} |"
    )


async def _comparison_comment(
    run: Run, gh: RepoGitHub, contestants: list[Run], *, with_verify: bool
) -> None:
    head = "| agent | model | cost | duration | files | lines |"
    rule = "|---|---|---|---|---|---|"
    if with_verify:
        head += " verify |"
        rule += "---|"
    lines = [
        COMPARE_MARKER.format(run_id=run.rec.id),
        f"**Baton** · compare on #{run.t.number}: {len(contestants)} agents, one draft PR each.",
        "",
        head + " result |",
        rule + "---|",
        *(_row(c, with_verify=with_verify) for c in contestants),
    ]
    failed = [c for c in contestants if c.rec.error]
    lines += [f"\n`{c.contestant}`: {c.rec.error}" for c in failed]
    body = "\n".join(lines)
    marker = COMPARE_MARKER.format(run_id=run.rec.id)
    found = await gh.find_comment(run.t.number, marker) if run.ctx.attempt > 1 else None
    if found is not None:
        await gh.edit_comment(found.id, body)
    else:
        await gh.comment(run.t.number, body)
    if len(failed) == len(contestants):
        raise RunFailed("every agent in the comparison failed; see the comparison above")
