"""Check suites: one per app and commit, made with the app's first check run on it, completed once
all its runs are, when `check_suite.completed` goes to every app that subscribes to it.

Each check run also keeps the states it went through (`CheckRun.history`), so a test can read
how a live check run moved, as GitHub's UI showed it along the way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from bot.localhub import gitstore, shapes
from bot.localhub.shapes_checks import minimal_pull
from bot.localhub.state import CheckSuite, iso

if TYPE_CHECKING:
    from bot.localhub.hub import Hub
    from bot.localhub.state import CheckRun, Repo

# A suite's conclusion is its runs' highest in this order (GitHub's "highest priority").
PRIORITY = (
    "action_required",
    "cancelled",
    "timed_out",
    "failure",
    "startup_failure",
    "stale",
    "neutral",
    "success",
    "skipped",
)


def conclusion_of(conclusions: list[str]) -> str:
    return min(conclusions, key=lambda c: PRIORITY.index(c) if c in PRIORITY else len(PRIORITY))


async def _branch_of(repo: Repo, sha: str) -> str | None:
    """The branch whose head the commit is (a feature branch before the default one)."""
    heads = [b for b, head in (await gitstore.branches(repo.path)).items() if head == sha]
    heads.sort(key=lambda b: (b == repo.default_branch, b))
    return heads[0] if heads else None


async def _suite_for(hub: Hub, repo: Repo, run: CheckRun) -> CheckSuite:
    found = repo.check_suites.get(run.suite_id)
    if found is None:
        found = next(
            (
                s
                for s in repo.check_suites.values()
                if (s.app_id, s.head_sha) == (run.app_id, run.head_sha)
            ),
            None,
        )
    if found is None:
        now = time.time()
        found = CheckSuite(
            id=hub.next_id(),
            app_id=run.app_id,
            head_sha=run.head_sha,
            head_branch=None,  # read when the suite completes: git is not asked on each run
            status="queued",
            conclusion=None,
            created_at=now,
            updated_at=now,
        )
        repo.check_suites[found.id] = found
    run.suite_id = found.id
    return found


def snapshot(run: CheckRun) -> dict[str, Any]:
    return {
        "status": run.status,
        "conclusion": run.conclusion,
        "title": run.output.get("title"),
        "summary": run.output.get("summary"),
        "at": time.time(),
    }


async def after_change(hub: Hub, repo: Repo, run: CheckRun) -> None:
    """A check run was created or updated: keep its state, bring its suite up to date, and
    send `check_suite.completed` when the suite's last run completes."""
    run.history.append(snapshot(run))
    suite = await _suite_for(hub, repo, run)
    runs = [r for r in repo.check_runs.values() if r.suite_id == suite.id]
    was = suite.status
    suite.updated_at = time.time()
    if all(r.status == "completed" for r in runs):
        suite.status = "completed"
        suite.conclusion = conclusion_of([r.conclusion or "neutral" for r in runs])
    else:
        suite.status = "in_progress" if any(r.status != "queued" for r in runs) else "queued"
        suite.conclusion = None
    if suite.status == "completed" and was != "completed":
        suite.head_branch = suite.head_branch or await _branch_of(repo, suite.head_sha)
        await _emit_completed(hub, repo, suite, len(runs))


async def _emit_completed(hub: Hub, repo: Repo, suite: CheckSuite, count: int) -> None:
    app = hub.app(suite.app_id)
    fields = {"action": "completed", "check_suite": await check_suite(hub, repo, suite, count)}
    hub.emit("check_suite", repo, app.bot.login, fields)


async def check_suite(hub: Hub, repo: Repo, suite: CheckSuite, count: int) -> dict[str, Any]:
    api = f"{shapes.repo_api(hub, repo)}/check-suites/{suite.id}"
    info = await gitstore.commit_info(repo.path, suite.head_sha)
    pulls = [
        minimal_pull(hub, repo, i)
        for i in repo.issues.values()
        if i.pull is not None and i.state == "open" and i.pull.head_sha == suite.head_sha
    ]
    person = {"name": info.author_name, "email": info.author_email}
    return {
        "id": suite.id,
        "node_id": shapes.node_id("CheckSuite", suite.id),
        "head_branch": suite.head_branch,
        "head_sha": suite.head_sha,
        "status": suite.status,
        "conclusion": suite.conclusion,
        "url": api,
        "before": info.parents[0] if info.parents else None,
        "after": suite.head_sha,
        "pull_requests": pulls,
        "app": shapes.integration(hub, hub.app(suite.app_id)),
        "created_at": iso(suite.created_at),
        "updated_at": iso(suite.updated_at),
        "rerequestable": True,
        "runs_rerequestable": True,
        "latest_check_runs_count": count,
        "check_runs_url": f"{api}/check-runs",
        "head_commit": {
            "id": info.sha,
            "tree_id": info.tree,
            "message": info.message,
            "timestamp": info.committer_date,
            "author": person,
            "committer": {"name": info.committer_name, "email": info.committer_email},
        },
    }
