"""The context the agent inherits (the handoff): gathered from GitHub and git, then built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands import find_command_line
from bot.handoff import Handoff
from config.schema import permission_at_least

if TYPE_CHECKING:
    from bot.github import InstallationToken, RepoGitHub, ReviewComment
    from bot.ledger import RunRecord
    from bot.run.state import RunState
    from bot.run.target import Target
    from config.schema import AgentsConfig


async def _trusted_review_comments(
    state: RunState, gh: RepoGitHub, pr_number: int, config: AgentsConfig
) -> tuple[list[ReviewComment], int]:
    """Review comments on lines still in the diff, from people who may trigger runs (others'
    words never steer an agent); and how many were withheld."""
    trusted: list[ReviewComment] = []
    withheld = 0
    allowed: dict[str, bool] = {}
    need = config.triggers.min_permission
    for comment in await gh.review_comments(pr_number):
        if comment.line is None:
            continue  # outdated: its line is no longer in the diff
        if find_command_line(comment.body, state.services.settings.command) is not None:
            continue  # a command in a thread: its instruction reaches the agent as such
        if comment.author not in allowed:
            allowed[comment.author] = permission_at_least(await gh.permission(comment.author), need)
        if allowed[comment.author]:
            trusted.append(comment)
        else:
            withheld += 1
    return trusted, withheld


async def gather_handoff(
    state: RunState,
    gh: RepoGitHub,
    target: Target,
    token: InstallationToken,
    config: AgentsConfig,
) -> Handoff | None:
    """None for a first run on a new issue; else the task, earlier runs, the PR's diff, trusted
    review comments, failing checks and the new instruction."""
    s, t = state.services, state.trigger
    instruction = state.cmd.instruction if state.cmd is not None else ""
    if target.pr is None and target.origin is None:
        earlier: tuple[RunRecord, ...] = ()
        if state.cmd is not None and state.cmd.verb == "continue":
            # The stopped run opened no PR (it wrote nothing): its session is still the one
            # to resume.
            rows = await s.store.runs_for_target(t.repo, t.number)
            earlier = tuple(r for r in rows if r.job_id != state.ctx.job_id and r.agent)
        if not instruction and not earlier:
            return None
        return Handoff(task_ref=f"issue #{t.number}", earlier_runs=earlier, instruction=instruction)
    pr = target.pr or target.origin
    assert pr is not None
    on_pull = await s.store.runs_for_pull(t.repo, pr.number)
    earlier = tuple(r for r in on_pull if r.job_id != state.ctx.job_id and r.agent)
    if target.pr is not None:
        diff = await s.workspaces.diff(
            repo=t.repo, clone_url=t.clone_url, token=token, base=pr.base_ref, head=pr.head_ref
        )
    else:  # a fork's pull request, not yet continued here: its head as this repository keeps it
        diff = await s.workspaces.diff(
            repo=t.repo, clone_url=t.clone_url, token=token, base=pr.base_ref, pull=pr.number
        )
    trusted, withheld = await _trusted_review_comments(state, gh, pr.number, config)
    failing = tuple(
        c
        for c in await gh.check_runs(pr.head_sha)
        if c.conclusion in {"failure", "timed_out", "action_required"}
        and c.app_slug != s.settings.app_slug
    )
    first_issue = target.issue_number
    return Handoff(
        task_ref=f"pull request #{pr.number}"
        + (f" (for issue #{first_issue})" if first_issue else ""),
        earlier_runs=earlier,
        diff=diff,
        review_comments=tuple(trusted),
        failing_checks=failing,
        instruction=instruction,
        withheld_comments=withheld,
        fresh=target.fresh,
    )
