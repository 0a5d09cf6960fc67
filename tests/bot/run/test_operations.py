"""Operating Baton for months, in the fast tier (Baton in-process against the emulator): a push a
ruleset refuses is reported at once with GitHub's reason; the org's max_concurrent_runs makes a
run wait, saying so; an installation losing a repository cancels its runs and drops its mirror."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from adapters.base import RunStatus
from bot.localhub import lifecycle
from bot.queue import JobStatus
from bot.run import slots
from bot.stack import Stack
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from starlette.applications import Starlette

pytestmark = pytest.mark.anyio
OWNER, REPO = "octocat", "octocat/calc"
DEMO = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"
# An agent that works until stopped: a run that is surely going when the test acts.
SLOW = (
    "version: 1\nagents:\n  slow: {adapter: command, command: "
    f"[{json.dumps(sys.executable)}, -c, 'import time; time.sleep(120)']}}\n"
    "routes:\n  - agent: slow\n"
)


def in_process(app: Starlette) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=app)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = {"job_max_attempts": "3", "job_retry_base_s": "0", "sandbox": "none"}
    async with Stack(workdir=tmp_path, settings=settings, github_transport=in_process) as running:
        yield running


async def _labeled(stack: Stack) -> int:
    number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
    await stack.label(OWNER, REPO, number, "agent:fix")
    return number


async def _until(check: object, timeout_s: float = 30.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.05)


async def test_a_push_a_ruleset_refuses_is_reported_with_githubs_reason_and_not_retried(
    stack: Stack,
) -> None:
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": DEMO})
    async with stack.user(OWNER) as owner:
        made = await owner.post(
            f"repos/{REPO}/rulesets",
            json={
                "name": "people's branches only",
                "conditions": {"ref_name": {"include": ["refs/heads/baton/*"], "exclude": []}},
                "rules": [{"type": "creation"}],
            },
        )
        assert made.status_code == 201
    number = await _labeled(stack)

    [status] = await stack.wait_final(REPO, number)

    assert "GitHub refused the push to `baton/1-add-subtracts`" in status
    assert "GH013: Repository rule violations found for refs/heads/baton/1-add-subtracts" in status
    assert "Cannot create ref due to creations being restricted." in status
    assert await stack.pulls(REPO) == []
    [job] = await stack.runtime.queue.list_jobs()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)  # reported, never retried


async def test_a_run_over_the_orgs_max_concurrent_runs_waits_and_says_so(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slots, "WAIT_S", 0.5)  # it looks again every 15 s in production
    await stack.create_repo(
        OWNER, ".github", {"agents.yml": "defaults:\n  max_concurrent_runs: 1\n"}
    )
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": DEMO})
    store = stack.runtime.services.store
    # Another worker's run holds the org's one slot.
    assert await store.claim("slots:octocat:0", "another-worker", ttl_s=600)
    number = await _labeled(stack)

    async def says_it_waits() -> bool:
        return any("allows 1 run at once" in c for c in await stack.status_comments(REPO, number))

    await _until(says_it_waits)

    waiting: list[int] = []

    async def back_in_the_queue() -> bool:
        # Between looks the job waits queued; a look itself runs it for a moment.
        [job] = await stack.runtime.queue.list_jobs()
        if job.status is JobStatus.QUEUED:
            waiting.append(job.attempts)
        return bool(waiting)

    await _until(back_in_the_queue)
    assert waiting == [0]  # waiting spends no attempt
    assert await stack.pulls(REPO) == []

    assert await store.release("slots:octocat:0", "another-worker")
    [status] = await stack.wait_final(REPO, number, timeout_s=60)
    assert "✅ Done" in status
    kinds = [e.kind for e in await store.events("r1")]
    assert kinds.count("waiting") == 1  # said once, however often it looked


async def test_a_repository_taken_from_the_installation_stops_its_runs(stack: Stack) -> None:
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": SLOW})
    await stack.create_repo(OWNER, "kept", {"calc.py": CALC, ".agents.yml": DEMO})
    number = await _labeled(stack)
    store = stack.runtime.services.store
    mirrors = stack.runtime.services.workspaces

    async def agent_running() -> bool:
        # The brief is handed over as the agent's process starts.
        return any(e.kind == "brief" for e in await store.events("r1"))

    await _until(agent_running)
    assert "octocat/calc" in mirrors.mirrors()

    lifecycle.remove_repositories(stack.hub, stack.installation_id, ["calc"])

    async def cancelled() -> bool:
        row = await store.get_run("r1")
        return row is not None and row.status == RunStatus.CANCELLED

    await _until(cancelled)
    await _until(lambda: _no_mirror(stack))
    [removal] = await store.removed_repos()
    assert (removal.repo, removal.reason) == ("octocat/calc", "removed from the installation")
    assert await store.get_run("r1") is not None  # the ledger keeps it until `baton purge`
    # The installation's other repository works as before.
    kept = await stack.open_issue(OWNER, "octocat/kept", ISSUE_TITLE, ISSUE_BODY)
    await stack.label(OWNER, "octocat/kept", kept, "agent:fix")
    [status] = await stack.wait_final("octocat/kept", kept, timeout_s=60)
    assert "✅ Done" in status
    del number


async def _no_mirror(stack: Stack) -> bool:
    return "octocat/calc" not in stack.runtime.services.workspaces.mirrors()
