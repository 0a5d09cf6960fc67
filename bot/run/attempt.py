"""One agent's attempt: worktree → agent → policy and secret scan → commit → delivery."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.sandbox import SandboxUnavailable
from bot import gitchange, gitops, render
from bot.handoff import summarize_handoff
from bot.logs import bound
from bot.plan import policy_violation
from bot.run import decide
from bot.run.agent import run_agent, wall_for
from bot.run.deliver import drafted_by_a_stop, execute, plan_delivery, remote_facts
from bot.run.stops import is_limit, limit_action, stop_text
from bot.verify import run_verify
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.github import InstallationToken, RepoGitHub
    from bot.handoff import Handoff
    from bot.outbound import Outbound
    from bot.plan import RunPlan
    from bot.run.state import RunState
    from bot.run.target import Target
    from config.schema import Verify

log = logging.getLogger(__name__)
MAX_FINDINGS_SHOWN = 5


class RunFailed(BatonError):
    """The run ends without a PR for a reason the user should read (already user-facing)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one agent's attempt ended: it delivered (`reason` empty), or why it did not. `limit`
    is the status when the agent was stopped at its cost cap or timeout, and `kept` whether
    its work so far was pushed to the branch and a draft PR."""

    reason: str = ""
    limit: str = ""
    kept: bool = False

    @property
    def delivered(self) -> bool:
        return not self.reason


class Attempt:
    """What an attempt leaves besides its row: for the next agent of a chain, the diff a failed
    agent left; for a comparison, the change's size and whether `verify` passed."""

    def __init__(self) -> None:
        self.left_behind = ""
        self.diffstat: tuple[int, int, int] | None = None  # files, added, removed
        self.verify_passed: bool | None = None


async def leaks(wt: gitops.Worktree, staged: gitchange.Staged, wall: Outbound) -> str | None:
    """Why the change may not leave the machine: a secret in any file (binary ones too, read
    from git's objects) or file name, in any form; or a file too large to scan."""
    try:
        blobs = await gitchange.staged_blobs(wt)
    except gitchange.FileTooLarge as exc:
        return f"Nothing was pushed: {exc}."
    scanner = wall.scanner
    found = scanner.scan_text("\n".join(staged.changed), where="the changed files' names")
    for blob in blobs:
        if blob.new is not None:
            found += scanner.scan_blob(blob.new, where=blob.path, old=blob.old)
    if not found:
        return None
    listed = "; ".join(str(f) for f in found[:MAX_FINDINGS_SHOWN])
    more = len(found) - MAX_FINDINGS_SHOWN
    extra = f" (and {more} more)" if more > 0 else ""
    return f"The agent's change contains what looks like {listed}{extra}; nothing was pushed."


def detail_text(state: RunState, handoff: Handoff | None) -> str:
    """The status comment's text: notes (a fallback's reason, what was withheld), then what was
    handed over."""
    return state.notes.text(summarize_handoff(handoff) if handoff is not None else "")


async def partial_diff(wt: gitops.Worktree) -> str:
    """What a failed agent changed before it stopped ("" when nothing, or unreadable)."""
    try:
        await gitchange.stage_changes(wt)
        return await gitchange.staged_diff(wt)
    except gitops.GitError as exc:
        log.info("could not read what the failed agent left: %s", exc)
        return ""


async def _worktree(state: RunState, token: InstallationToken, target: Target) -> gitops.Worktree:
    s, t = state.services, state.trigger
    if state.rec.commit_sha:
        wt = await s.workspaces.existing(run_id=state.rec.id, branch=target.branch)
        if wt is not None and await gitops.head_sha(wt) == state.rec.commit_sha:
            return wt
        # The committed work is gone with its worktree: run the agent again.
        await state.save(commit_sha="")
    return await s.workspaces.prepare(
        repo=t.repo,
        clone_url=t.clone_url,
        token=token,
        run_id=state.rec.id,
        branch=target.branch,
        start=target.start,
        pull=target.pull,
    )


async def _commit(
    state: RunState, plan: RunPlan, wt: gitops.Worktree, target: Target, wall: Outbound
) -> None:
    """Stage what the agent changed once nothing in the tree can steer git, check it, commit."""
    staged = await gitchange.stage_changes(wt)
    if staged.removed_git:
        state.notes.safety.append(render.removed_git_note(staged.removed_git))
    lines = await gitchange.staged_lines_by_file(wt)
    violation = policy_violation(staged.changed, plan.policy, lines=lines) or await leaks(
        wt, staged, wall
    )
    title = target.title or state.trigger.title
    number = target.issue_number or state.trigger.number
    message = render.commit_message(title=title, number=number, rec=state.rec)
    if violation is None and wall.findings(message, "commit message"):
        violation = "The commit message would carry a secret; nothing was pushed."
    await state.event(
        "policy",
        ok=violation is None,
        reason=violation or "",
        files=len(staged.changed),
        removed_git=staged.removed_git,
    )
    if violation is not None:
        raise RunFailed(violation)
    sha = await gitops.commit(wt, message)
    await state.save(commit_sha=sha, branch=target.branch)


async def _keep(
    state: RunState, plan: RunPlan, wt: gitops.Worktree, target: Target, wall: Outbound
) -> bool:
    """At its limit the agent's work so far is committed like any finished work (the same
    policy and secret checks); False when it had written nothing."""
    staged = await gitchange.stage_changes(wt)
    if not staged.changed:
        return False
    await _commit(state, plan, wt, target, wall)
    return True


async def _finishes_a_stopped_pr(
    state: RunState, gh: RepoGitHub, wt: gitops.Worktree, target: Target
) -> bool:
    """An agent that continued a PR stopped at its limit and found nothing more to change has
    finished that work: the PR's head is what it delivers (the PR leaves draft)."""
    if target.pr is None or (await gitchange.stage_changes(wt)).changed:
        return False
    remote = await remote_facts(state, gh, wt, target)
    if not drafted_by_a_stop(target.pr, remote.earlier) or remote.branch_sha is None:
        return False
    await state.save(commit_sha=remote.branch_sha, branch=target.branch)
    state.notes.result = (
        "The agent found nothing more to change: the work kept at the limit is the result."
    )
    return True


async def attempt(
    state: RunState,
    gh: RepoGitHub,
    plan: RunPlan,
    target: Target,
    token: InstallationToken,
    *,
    handoff: Handoff | None,
    verify: Verify | None = None,
    into: Attempt | None = None,
    next_agent: bool = False,
    look: Callable[[], Awaitable[str | None]] | None = None,
) -> Outcome:
    """One agent's attempt: delivered, failed, or stopped at its limit with its work kept.
    `next_agent`: the chain has one after this, which takes over from a stop at a limit when
    this agent's `on_budget`/`on_timeout` says `handoff` (and then says so itself). `look`:
    asked now and then while the agent runs, for a reason to stop it (the org's pause)."""
    # Every line of the attempt names its agent (git and GitHub steps too), not only the CLI's.
    with bound(run=state.rec.id, agent=plan.agent):
        return await _attempt(
            state,
            gh,
            plan,
            target,
            token,
            handoff=handoff,
            verify=verify,
            out=into or Attempt(),
            next_agent=next_agent,
            look=look,
        )


async def _attempt(
    state: RunState,
    gh: RepoGitHub,
    plan: RunPlan,
    target: Target,
    token: InstallationToken,
    *,
    handoff: Handoff | None,
    verify: Verify | None,
    out: Attempt,
    next_agent: bool,
    look: Callable[[], Awaitable[str | None]] | None,
) -> Outcome:
    s, t = state.services, state.trigger
    wt = await _worktree(state, token, target)
    # The branch as this machine's mirror fetched it a moment ago, for the worktree: not the
    # pull request's head from the API, which GitHub lets a client cache for a minute (a run
    # just before on the same branch would then look like someone else's push).
    remote_now = await s.workspaces.remote_sha(t.repo, target.branch)
    # Where the run starts from: the commit its live check run shows on (bot/checkrun).
    await state.event("workspace", head=wt.base_sha, branch=wt.branch)
    if not state.rec.commit_sha:
        # A new worktree builds on the branch as it is now; that head is the push's lease for
        # every later attempt of this run, so a commit someone pushes meanwhile is never
        # replaced by a retry that would otherwise read it as the head to expect.
        await state.save(lease_sha=remote_now or "")
        wall = wall_for(s, token, plan.spec)
        result = await run_agent(state, plan, wt, handoff, wall, look=look)
        if is_limit(result.status):
            kept = await _keep(state, plan, wt, target, wall)
            text = stop_text(rec=state.rec, plan=plan, command=s.settings.command, kept=kept)
            await state.save(error=wall.check(text, "stop report"), finished_at=time.time())
            if not kept:
                # The agent's end: the run's follows (a failure, or the next agent's handoff).
                await state.event(
                    "ended", status=state.rec.status, reason=state.rec.error, stage="agent"
                )
                await s.workspaces.remove(t.repo, state.rec.id)
                return Outcome(reason=state.rec.error, limit=state.rec.status)
        elif not result.ok:
            reason = wall.check(decide.agent_failure_text(plan.agent, result), "agent's error")
            await state.save(error=reason, finished_at=time.time())
            await state.event("ended", status=state.rec.status, reason=reason, stage="agent")
            out.left_behind = await partial_diff(wt)
            await s.workspaces.remove(t.repo, state.rec.id)
            return Outcome(reason=reason)
        elif not await _finishes_a_stopped_pr(state, gh, wt, target):
            await _commit(state, plan, wt, target, wall)
    out.diffstat = await gitops.diffstat(wt)
    stopped = is_limit(state.rec.status)
    if verify is not None and not stopped:
        try:
            out.verify_passed = await run_verify(verify, wt.path, runner=s.runner)
        except SandboxUnavailable as exc:
            log.warning("verify not run: %s", exc)
    remote = await remote_facts(state, gh, wt, target)
    detail = state.notes.text(state.rec.error) if stopped else detail_text(state, handoff)
    actions = plan_delivery(
        rec=state.rec,
        target=target,
        remote=remote,
        base=t.default_branch,
        draft=plan.policy.draft,
        detail=detail,
        announce=not (next_agent and limit_action(plan.spec, state.rec.status) == "handoff"),
    )
    await execute(state, gh, wt, actions)
    await s.workspaces.remove(t.repo, state.rec.id)
    if stopped:
        return Outcome(reason=state.rec.error, limit=state.rec.status, kept=True)
    return Outcome()
