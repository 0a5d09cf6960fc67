"""Where a run's work goes: the branch, where it starts, and the PR if there is one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot import gitops
from bot.plan import Refusal

if TYPE_CHECKING:
    from bot.github import PullRequest, RepoGitHub
    from bot.run.state import RunState
    from bot.trigger import Trigger


@dataclass(frozen=True, slots=True)
class Target:
    branch: str
    start: str  # origin branch the worktree starts from
    pr: PullRequest | None
    issue_number: int | None  # for `Fixes #N`
    title: str
    fresh: bool = False
    # Start from this pull request's head as the base repository keeps it (a fork's PR).
    pull: int | None = None
    # The fork's pull request this work continues on a branch of the base repository.
    origin: PullRequest | None = None


def fork_note(target: Target) -> str:
    """What the PR body and the status comment say about work continued from a fork's PR."""
    origin = target.origin
    if origin is None:
        return ""
    return (
        f"Continues #{origin.number} (branch `{origin.head_ref}` of the fork "
        f"`{origin.head_repo}`): Baton never pushes to a fork, so this work is on "
        f"`{target.branch}` in this repository."
    )


async def resolve_target(state: RunState, gh: RepoGitHub) -> Target | Refusal:
    """An issue's branch `baton/<n>-<slug>` (its open PR, if any); a PR's own head branch,
    from its base for `--fresh`; for a fork's PR, a branch of this repository starting at its
    head (Baton never pushes to a fork), with its own PR. A closed PR is refused."""
    t = state.trigger
    fresh = state.cmd is not None and bool(state.cmd.flags.get("fresh"))
    if t.is_pull_request:
        pr = await gh.get_pull(t.number)
        if pr.state != "open":
            return Refusal(f"Pull request #{pr.number} is {pr.state}; reopen it first.")
        if pr.head_repo and pr.head_repo != t.repo:
            return await _from_fork(gh, pr, fresh=fresh)
        runs = await state.services.store.runs_for_pull(t.repo, pr.number)
        issue = next((r.number for r in runs if not r.is_pull_request), None)
        return Target(
            branch=pr.head_ref,
            start=pr.base_ref if fresh else pr.head_ref,
            pr=pr,
            issue_number=issue,
            title=pr.title,
            fresh=fresh,
        )
    branch = gitops.branch_name(t.number, t.title)
    open_pr = await gh.find_pull(branch)
    return Target(
        branch=branch,
        start=branch if open_pr else t.default_branch,
        pr=open_pr,
        issue_number=t.number,
        title=t.title,
    )


async def _from_fork(gh: RepoGitHub, pr: PullRequest, *, fresh: bool) -> Target:
    """The base repository's branch for work on a fork's PR: made from the PR's head the first
    time, continued (with the PR Baton opened for it) afterwards."""
    branch = gitops.branch_name(pr.number, pr.title)
    mine = await gh.find_pull(branch)
    from_head = mine is None and not fresh
    return Target(
        branch=branch,
        start=pr.base_ref if fresh else branch,
        pr=mine,
        issue_number=None,
        title=pr.title,
        fresh=fresh,
        pull=pr.number if from_head else None,
        origin=pr,
    )


async def task_of(state: RunState, gh: RepoGitHub, target: Target) -> Trigger:
    """Whose words the brief quotes as the task: on a PR Baton opened, the issue it serves."""
    if target.pr is None or target.issue_number is None:
        return state.trigger
    issue = await gh.get_issue(target.issue_number)
    return state.trigger.model_copy(
        update={
            "number": issue.number,
            "is_pull_request": False,
            "title": issue.title,
            "body": issue.body,
            "author": issue.author,
        }
    )
