"""`/agent continue`: the run stopped at its cost cap or timeout is picked up by the same agent
(its session resumed where the adapter can, else the handoff brief), on the same branch and
draft PR."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import gitops
from bot.plan import Refusal
from bot.run.chain import run_fix
from bot.run.status import refuse
from bot.run.stops import is_limit

if TYPE_CHECKING:
    from bot.github import RepoGitHub
    from bot.ledger import RunRecord
    from bot.run.state import RunState
    from config.merge import Effective


async def last_run(state: RunState, gh: RepoGitHub) -> RunRecord | None:
    """The newest run an agent ran here before this job: on the PR, or on the issue's PR (or
    the issue itself when it has none)."""
    s, t = state.services, state.trigger
    if t.is_pull_request:
        rows = await s.store.runs_for_pull(t.repo, t.number)
    else:
        pr = await gh.find_pull(gitops.branch_name(t.number, t.title))
        if pr is not None:
            rows = await s.store.runs_for_pull(t.repo, pr.number)
        else:
            rows = await s.store.runs_for_target(t.repo, t.number)
    ran = [r for r in rows if r.agent and r.job_id != state.ctx.job_id and r.finished_at]
    return max(ran, key=lambda r: r.created_at) if ran else None


def nothing_to_continue(last: RunRecord | None, command: str) -> Refusal:
    if last is None:
        return Refusal(f"There is no run here to continue. `{command} fix` starts one.")
    return Refusal(
        f"There is nothing to continue: the last run here (`{last.id}`, `{last.agent}`) ended "
        f"as {last.status}, not at its cost limit or timeout. `{command} retry` starts "
        "another attempt."
    )


async def run_continue(state: RunState, gh: RepoGitHub, effective: Effective) -> None:
    """The stopped run's agent (or the one the command names) goes on from where it stopped."""
    last = await last_run(state, gh)
    if last is None or not is_limit(last.status):
        await refuse(state, gh, nothing_to_continue(last, state.services.settings.command))
        return
    named = state.cmd.agent if state.cmd is not None else None
    await run_fix(state, gh, effective, agent=named or last.agent)
