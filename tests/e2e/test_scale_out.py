"""Scale-out on PostgreSQL: 2 servers and 3 workers take 300 runs over 60 issues (the scripted
agent), and the ledger shows each run done exactly once, no two runs of one issue at once, one
PR per issue and one status comment per run."""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
import re
import time
from typing import TYPE_CHECKING, Any

import pytest

from bot.store.base import RunRecord
from tests.e2e.cluster import Cluster, wait_for
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE
from tests.postgres import database

if TYPE_CHECKING:
    from pathlib import Path

    from bot.stack import Stack

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
OWNER = "octocat"
DEMO = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"
# The size of the run (60 issues, 5 runs each); smaller values make a quick local look.
ISSUES = int(os.environ.get("BATON_TEST_LOAD_ISSUES", "60"))
RUNS_PER_ISSUE = 5
REPOS = 6
STATUS = re.compile(r"<!-- baton:status run=(r[\w-]+) -->")


async def _gathered(jobs: list[Any], limit: int = 8) -> list[Any]:
    """Run the coroutines a few at a time, as people do things at once."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


async def _issues(stack: Stack) -> list[tuple[str, int]]:
    repos = [f"{OWNER}/app{n}" for n in range(REPOS)]
    for repo in repos:
        await stack.create_repo(OWNER, repo.split("/")[1], {"calc.py": CALC, ".agents.yml": DEMO})
    targets = [repos[i % REPOS] for i in range(ISSUES)]
    numbers = await _gathered(
        [stack.open_issue(OWNER, repo, ISSUE_TITLE, ISSUE_BODY) for repo in targets]
    )
    return list(zip(targets, numbers, strict=True))


async def test_two_servers_and_three_workers_run_each_of_300_runs_exactly_once(
    tmp_path: Path,
) -> None:
    with database() as url:
        async with Cluster(workdir=tmp_path, database_url=url) as cluster:
            stack = cluster.stack
            issues = await _issues(stack)
            started = time.monotonic()
            await _gathered([stack.label(OWNER, r, n, "agent:fix") for r, n in issues])
            # As each pull request appears, its reviewer asks for fresh retries, all at once:
            # they queue behind each other on the issue's lock.
            prs = await _pull_requests(stack, issues)
            retries = [
                stack.comment(OWNER, repo, pr, "/agent retry --fresh")
                for (repo, _), pr in prs.items()
                for _ in range(RUNS_PER_ISSUE - 1)
            ]
            await _gathered(retries)
            store = await cluster.store()
            total = ISSUES * RUNS_PER_ISSUE

            async def all_ended() -> bool:
                rows = await store.list_runs()
                return sum(1 for r in rows if r.finished_at is not None) >= total

            await wait_for(all_ended, timeout_s=900, what=f"{total} runs ended")
            elapsed = time.monotonic() - started
            rows = await store.list_runs()
            events = {r.id: [e.kind for e in await store.events(r.id)] for r in rows}
            comments = await _status_comments(stack, issues, prs)
            pulls = [
                (repo, p["head"]["ref"])
                for repo in {r for r, _ in issues}
                for p in await stack.pulls(repo)
            ]
            await store.close()
    print(f"{total} runs in {elapsed:.0f}s: {total / elapsed * 60:.0f} runs/minute")

    assert len(rows) == total
    failed = [(r.id, r.error) for r in rows if r.status != "success"]
    assert failed == []
    for run_id, kinds in events.items():
        # Exactly once: one end, one push, one PR step, whatever the workers and retries did.
        assert kinds.count("ended") == 1, (run_id, kinds)
        assert kinds.count("pushed") == 1, (run_id, kinds)
    _assert_no_overlap(rows, prs)
    assert len(pulls) == len(set(pulls)) == ISSUES  # one pull request per issue
    assert collections.Counter(comments) == dict.fromkeys(events, 1)


async def _pull_requests(stack: Stack, issues: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Each issue's pull request, once the first run has opened it."""
    found: dict[tuple[str, int], int] = {}

    async def opened() -> bool:
        for repo in {r for r, _ in issues}:
            for pr in await stack.pulls(repo):
                issue = int(pr["head"]["ref"].split("/")[1].split("-")[0])
                found[(repo, issue)] = pr["number"]
        return len(found) == len(issues)

    await wait_for(opened, timeout_s=600, what="a pull request for every issue", every_s=1)
    return found


async def _status_comments(
    stack: Stack, issues: list[tuple[str, int]], prs: dict[tuple[str, int], int]
) -> list[str]:
    """The run id of every status comment Baton made, on the issues and on their PRs."""
    seen: list[str] = []
    targets = [*issues, *((repo, pr) for (repo, _), pr in prs.items())]
    for repo, number in targets:
        for comment in await _all_comments(stack, repo, number):
            seen += STATUS.findall(comment["body"])
    return seen


async def _all_comments(stack: Stack, repo: str, number: int) -> list[dict[str, Any]]:
    async with stack.user(OWNER) as client:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = await client.get(
                f"repos/{repo}/issues/{number}/comments", params={"per_page": 100, "page": page}
            )
            resp.raise_for_status()
            batch: list[dict[str, Any]] = resp.json()
            found += batch
            if len(batch) < 100:
                return found
            page += 1


def _assert_no_overlap(rows: list[RunRecord], prs: dict[tuple[str, int], int]) -> None:
    """Runs of one issue (on it or on its PR) never overlap, by the ledger's own times."""
    issue_of_pr = {(repo, pr): issue for (repo, issue), pr in prs.items()}
    by_issue: dict[tuple[str, int], list[tuple[float, float]]] = collections.defaultdict(list)
    for r in rows:
        key = (r.repo, issue_of_pr.get((r.repo, r.number), r.number))
        assert r.started_at is not None
        assert r.finished_at is not None
        by_issue[key].append((r.started_at, r.finished_at))
    assert len(by_issue) == len(prs)
    for spans in by_issue.values():
        spans.sort()
        assert len(spans) == RUNS_PER_ISSUE
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end
