"""Delivery: what a finished attempt does to git and GitHub, planned as values and carried out
by one executor. A retried job plans again from what the remote already has, so every step is
done once: a branch already at the commit is not pushed, a PR found is updated, a check run made
is not made again."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot import gitops, render
from bot.checkrun.view import CONCLUSIONS
from bot.github import GitHubError
from bot.run import decide
from bot.run.status import announce_end
from bot.run.stops import is_limit, pr_note
from bot.run.target import fork_note

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.github import PullRequest, RepoGitHub
    from bot.ledger import RunRecord
    from bot.run.state import RunState
    from bot.run.target import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Remote:
    """What GitHub already has of this run's delivery."""

    branch_sha: str | None  # the remote branch's head
    pr: PullRequest | None  # the PR of the branch, if one is open
    earlier: tuple[RunRecord, ...] = ()  # finished runs that went into this PR


@dataclass(frozen=True, slots=True)
class KeepPrevious:
    """A fresh retry keeps the head it replaces reachable, as a tag the PR body names."""

    sha: str
    tag: str


@dataclass(frozen=True, slots=True)
class Push:
    lease: str | None  # the remote head the push may replace (None: the branch is new)


@dataclass(frozen=True, slots=True)
class OpenPull:
    title: str
    head: str
    base: str
    body: str
    draft: bool


@dataclass(frozen=True, slots=True)
class UpdatePull:
    number: int
    body: str


@dataclass(frozen=True, slots=True)
class SetDraft:
    """A PR holding a stopped run's work becomes a draft; one whose work is finished again
    leaves draft (through GraphQL: GitHub's REST API cannot do either)."""

    pr: PullRequest
    draft: bool


@dataclass(frozen=True, slots=True)
class CreateCheckRun:
    head_sha: str
    title: str
    summary: str
    conclusion: str = "success"  # "neutral" for a run stopped at its limit


@dataclass(frozen=True, slots=True)
class Finish:
    """The row ends (a success, or the limit it stopped at) and the status comment says so,
    with `detail`."""

    detail: str
    stopped: bool = False
    # False when the next agent takes over at once: its own status follows.
    announce: bool = True


Action = KeepPrevious | Push | OpenPull | UpdatePull | SetDraft | CreateCheckRun | Finish


def drafted_by_a_stop(pr: PullRequest, earlier: Sequence[RunRecord]) -> bool:
    """Whether the last run that delivered to `pr` stopped at its limit (so Baton made the PR a
    draft, and a run that finishes the work makes it ready again)."""
    delivered = [r for r in earlier if r.pr_number == pr.number]
    return pr.draft and bool(delivered) and is_limit(delivered[-1].status)


def plan_delivery(
    *,
    rec: RunRecord,
    target: Target,
    remote: Remote,
    base: str,
    draft: bool,
    detail: str,
    announce: bool = True,
) -> list[Action]:
    """Every step still to do, in order, for the committed `rec` to become a PR: a draft that
    says so when the run stopped at its cost cap or timeout (its work so far is kept)."""
    actions: list[Action] = []
    stopped = is_limit(rec.status)
    lease = rec.lease_sha or None
    replaced = rec.replaced_sha
    if remote.branch_sha != rec.commit_sha:
        if target.fresh and lease and not replaced:
            actions.append(KeepPrevious(lease, render.previous_tag(rec.number, lease)))
            replaced = lease
        actions.append(Push(lease))
    # The body describes the run as it will be once every step is done.
    done = rec.with_(replaced_sha=replaced)
    if not stopped:
        done = done.with_(status=RunStatus.SUCCESS)
    body = render.pr_body(
        summary=rec.summary,
        issue_number=target.issue_number,
        runs=[*remote.earlier, done],
        note="\n\n".join(n for n in (fork_note(target), pr_note(done)) if n),
    )
    if remote.pr is None:
        title = target.title or f"Agent change for #{rec.number}"
        actions.append(
            OpenPull(title=title, head=target.branch, base=base, body=body, draft=draft or stopped)
        )
    else:
        actions.append(UpdatePull(remote.pr.number, body))
        if stopped and not remote.pr.draft:
            actions.append(SetDraft(remote.pr, draft=True))
        # Ready again only when a stop made it a draft, not a person (nor `policy.draft`).
        elif not (stopped or draft) and drafted_by_a_stop(remote.pr, remote.earlier):
            actions.append(SetDraft(remote.pr, draft=False))
    if rec.check_run_id is None:
        title, summary = render.check_run_output(done)
        # As the live check run ends: a stop at the cost cap asks a person to act (continue).
        conclusion = CONCLUSIONS.get(rec.status, "neutral") if stopped else "success"
        actions.append(CreateCheckRun(rec.commit_sha, title, summary, conclusion))
    actions.append(Finish(detail, stopped=stopped, announce=announce or not stopped))
    return actions


async def _open(gh: RepoGitHub, action: OpenPull) -> PullRequest:
    try:
        return await gh.create_pull(
            title=action.title,
            head=action.head,
            base=action.base,
            body=action.body,
            draft=action.draft,
        )
    except GitHubError as exc:
        # Two attempts raced, or GitHub created it but the answer was lost: find it.
        if exc.status != 422:
            raise
        found = await gh.find_pull(action.head)
        if found is None:
            raise
        return await gh.update_pull(found.number, body=action.body)


async def execute(
    state: RunState, gh: RepoGitHub, wt: gitops.Worktree, actions: Sequence[Action]
) -> None:
    """Carry out the plan; the row is saved after each step, so a retry re-plans from there."""
    s, t = state.services, state.trigger
    for action in actions:
        match action:
            case KeepPrevious(sha, tag):
                token = await s.github.token(t.installation_id, (t.name,))
                await gitops.push_ref(
                    wt, clone_url=t.clone_url, token=token, sha=sha, ref=f"refs/tags/{tag}"
                )
                await state.save(replaced_sha=sha)
            case Push(lease):
                token = await s.github.token(t.installation_id, (t.name,))
                await gitops.push(wt, clone_url=t.clone_url, token=token, expected_remote=lease)
                await state.event("pushed", sha=state.rec.commit_sha, branch=wt.branch)
            case OpenPull():
                pr = await _open(gh, action)
                await state.save(pr_number=pr.number, pr_url=pr.html_url)
                await state.event("pr_opened", number=pr.number, url=pr.html_url)
            case UpdatePull(number, body):
                pr = await gh.update_pull(number, body=body)
                await state.save(pr_number=pr.number, pr_url=pr.html_url)
                await state.event("pr_updated", number=pr.number, url=pr.html_url)
            case SetDraft(pr, draft):
                now = await gh.set_draft(pr, draft=draft)
                await state.event("pr_draft" if now else "pr_ready", number=pr.number)
            case CreateCheckRun(head_sha, title, summary, conclusion):
                check_id = await gh.create_check_run(
                    head_sha=head_sha,
                    name=render.CHECK_NAME,
                    conclusion=conclusion,
                    title=title,
                    summary=summary,
                    external_id=state.rec.id,
                )
                await state.save(check_run_id=check_id)
                await state.event("check_run", id=check_id, conclusion=conclusion)
            case Finish(detail, stopped, announce):
                status = state.rec.status if stopped else RunStatus.SUCCESS
                await state.save(status=status, finished_at=time.time())
                reason = state.rec.error if stopped else ""
                if announce:
                    await announce_end(
                        state, gh, reason=reason, detail=detail, pr_url=state.rec.pr_url
                    )
                else:  # the next agent's status follows
                    await state.event("ended", status=status, reason=reason)


async def remote_facts(
    state: RunState, gh: RepoGitHub, wt: gitops.Worktree, target: Target
) -> Remote:
    """What the remote has now: the branch head, the PR (a retried job may have opened it), and
    the runs that went into that PR before this one."""
    s, t = state.services, state.trigger
    token = await s.github.token(t.installation_id, (t.name,))
    head = await gitops.ls_remote(
        cwd=wt.path, clone_url=t.clone_url, token=token, branch=target.branch
    )
    pr = target.pr
    if pr is None and state.ctx.attempt > 1:
        # Only a retried job can find a PR it opened itself; a race is caught by the 422.
        pr = await gh.find_pull(target.branch)
    on_pull = await s.store.runs_for_pull(t.repo, pr.number) if pr is not None else []
    mine = [] if state.contestant else await s.store.runs_for_target(t.repo, t.number)
    earlier = decide.earlier_runs(
        [*on_pull, *mine],
        current=state.rec.id,
        job_id=state.ctx.job_id,
        on_pull={r.id for r in on_pull},
    )
    return Remote(branch_sha=head, pr=pr, earlier=tuple(earlier))
