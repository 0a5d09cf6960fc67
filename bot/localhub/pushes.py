"""What follows a change of branches: PR heads move, `pull_request.synchronize` is sent."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bot.localhub import gitstore, shapes_pulls
from bot.localhub.shapes_pulls import PullStats

if TYPE_CHECKING:
    from bot.localhub.hub import Hub
    from bot.localhub.state import Issue, Repo


async def pull_stats(repo: Repo, item: Issue) -> PullStats:
    pr = item.pull
    assert pr is not None
    changes = await gitstore.diff(repo.path, pr.base_sha, pr.head_sha)
    start = await gitstore.merge_base(repo.path, pr.base_sha, pr.head_sha)
    commits = await gitstore.ahead(repo.path, start or pr.base_sha, pr.head_sha)
    return PullStats(
        commits=commits,
        additions=sum(c.additions for c in changes),
        deletions=sum(c.deletions for c in changes),
        changed_files=len(changes),
        mergeable=await gitstore.mergeable(repo.path, pr.base_sha, pr.head_sha),
    )


async def emit_pull(hub: Hub, repo: Repo, item: Issue, action: str, sender: str,
                    **extra: object) -> None:  # fmt: skip
    stats = await pull_stats(repo, item)
    fields = {
        "action": action,
        "number": item.number,
        **extra,
        "pull_request": shapes_pulls.pull(hub, repo, item, stats),
    }
    hub.emit("pull_request", repo, sender, fields)


def pull_ref(number: int) -> str:
    """Where the base repository keeps a pull request's head (a fork's commits included)."""
    return f"refs/pull/{number}/head"


async def keep_head(repo: Repo, item: Issue) -> None:
    assert item.pull is not None
    await gitstore.git(repo.path, "update-ref", pull_ref(item.number), item.pull.head_sha)


async def _after_fork_push(hub: Hub, fork: Repo, sender: str, heads: dict[str, str]) -> None:
    """A push to a fork moves the heads of the pull requests it has open in its parent."""
    parent = hub.repo(*fork.parent.split("/", 1)) if fork.parent else None
    if parent is None:
        return
    for item in sorted(parent.issues.values(), key=lambda i: i.number):
        pr = item.pull
        if pr is None or item.state != "open" or pr.head_repo != fork.full_name:
            continue
        new = heads.get(pr.head_ref)
        if new and new != pr.head_sha:
            await gitstore.git(parent.path, "fetch", "--quiet", str(fork.path), new)
            old, pr.head_sha = pr.head_sha, new
            await keep_head(parent, item)
            item.updated_at = time.time()
            await emit_pull(hub, parent, item, "synchronize", sender, before=old, after=new)


async def after_push(hub: Hub, repo: Repo, sender: str, before: dict[str, str]) -> None:
    """Bring open PRs up to date with the branches as they are now (a fork's, in its parent)."""
    after = await gitstore.branches(repo.path)
    if after == before:
        return
    if repo.parent is not None:
        await _after_fork_push(hub, repo, sender, after)
    repo.pushed_at = time.time()
    for item in sorted(repo.issues.values(), key=lambda i: i.number):
        pr = item.pull
        if pr is None or item.state != "open":
            continue
        new_base = after.get(pr.base_ref)
        if new_base and new_base != pr.base_sha:
            pr.base_sha = new_base
        new_head = after.get(pr.head_ref) if pr.head_repo is None else None
        if new_head and new_head != pr.head_sha:
            old = pr.head_sha
            pr.head_sha = new_head
            item.updated_at = time.time()
            await emit_pull(hub, repo, item, "synchronize", sender, before=old, after=new_head)
