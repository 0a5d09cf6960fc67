"""The run package end to end, in the fast tier: Baton in-process, its REST calls through the
httpx transport seam into the local GitHub emulator's app, real git against the emulator, and
agents that start no model: the built-in scripted one, and `command` agents that exit at once."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from adapters.runner import FakeRunner, ProcessJob, completed
from bot import gitops
from bot.stack import Stack
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from starlette.applications import Starlette

    from adapters.process import Completed

pytestmark = pytest.mark.anyio
OWNER, REPO = "octocat", "octocat/calc"
DEMO = "  demo: {adapter: scripted}\n"
FAILING = (
    f"  broken: {{adapter: command, command: [{json.dumps(sys.executable)}, -c, 'exit(3)']}}\n"
)


def config(agents: str, route: str) -> str:
    return f"version: 1\nagents:\n{agents}routes:\n  - agent: {route}\n"


class Corrupting(httpx.AsyncBaseTransport):
    """GitHub answering one kind of request with a body Baton cannot read: a bug it never
    foresaw, injected at the transport seam."""

    def __init__(self, app: Starlette, *, method: str, path_end: str) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._method, self._path_end = method, path_end

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == self._method and request.url.path.endswith(self._path_end):
            return httpx.Response(201, json={"unexpected": True})
        return await self._inner.handle_async_request(request)


def in_process(app: Starlette) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=app)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = {"job_max_attempts": "2", "job_retry_base_s": "0", "sandbox": "none"}
    async with Stack(workdir=tmp_path, settings=settings, github_transport=in_process) as running:
        yield running


async def labeled(stack: Stack, yml: str) -> str:
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": yml})
    number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
    await stack.label(OWNER, REPO, number, "agent:fix")
    [status] = await stack.wait_final(REPO, number)
    return status


async def run_events(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    store = stack.runtime.services.store
    return [{"kind": e.kind, **e.data} for e in await store.events(run_id)]


async def test_a_label_gives_a_pr_and_a_timeline(stack: Stack) -> None:
    status = await labeled(stack, config(DEMO, "demo"))
    assert "✅ Done" in status
    [pr] = await stack.pulls(REPO)
    assert pr["head"]["ref"] == "baton/1-add-subtracts"
    kinds = [e["kind"] for e in await run_events(stack, "r1")]
    assert kinds == [
        "queued",
        "started",
        "workspace",
        "brief",
        "agent_started",
        "usage",
        "policy",
        "pushed",
        "pr_opened",
        "check_run",
        "ended",
    ]
    row = await stack.runtime.services.store.get_run("r1")
    assert row is not None
    assert (row.status, row.pr_number, row.network) == ("success", pr["number"], "none")


async def test_a_failing_agent_hands_over_to_its_fallback(stack: Stack) -> None:
    yml = f"version: 1\nagents:\n{DEMO}{FAILING}routes:\n  - agent: broken\n    fallback: [demo]\n"
    status = await labeled(stack, yml)
    assert "✅ Done" in status
    assert "`broken` did not succeed" in status
    assert "handing over to `demo`" in status
    [pr] = await stack.pulls(REPO)
    assert "`r1`" in pr["body"]  # the failed run's cost counts in the PR too
    assert "`r1-2`" in pr["body"]
    ended = (await run_events(stack, "r1"))[-1]
    assert (ended["kind"], ended["status"]) == ("ended", "failed")


async def labeled_by_mallory(stack: Stack) -> str:
    """A label from someone with triage rights only (who may not trigger); the final status."""
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": config(DEMO, "demo")})
    number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
    stack.hub.create_user("mallory")
    stack.hub.set_permission(REPO, "mallory", "triage")
    await stack.label("mallory", REPO, number, "agent:fix")
    [status] = await stack.wait_final(REPO, number)
    return status


async def test_a_requester_without_permission_is_refused_and_nothing_runs(stack: Stack) -> None:
    assert "Sorry @mallory" in await labeled_by_mallory(stack)
    assert await stack.pulls(REPO) == []
    kinds = [e["kind"] for e in await run_events(stack, "r1")]
    assert kinds == ["queued", "ended"]


async def test_a_refusal_whose_comment_failed_is_said_once_on_the_retry(tmp_path: Path) -> None:
    """GitHub fails the refusal's comment: the job's next attempt posts it, and does not refuse
    (nor end the run) a second time."""
    faults: list[FailsOnce] = []

    def transport(app: Starlette) -> httpx.AsyncBaseTransport:
        faults.append(FailsOnce(app, method="POST", path=r"/issues/1/comments$", body_has="Sorry"))
        return faults[-1]

    settings = {"job_max_attempts": "2", "job_retry_base_s": "0"}
    async with Stack(workdir=tmp_path, settings=settings, github_transport=transport) as stack:
        assert "Sorry @mallory" in await labeled_by_mallory(stack)
        assert faults[0].failed
        job = await stack.runtime.queue.get(1)
        assert job is not None
        assert job.attempts == 2
        kinds = [e["kind"] for e in await run_events(stack, "r1")]
        assert kinds == ["queued", "ended"]


class FailsOnce(httpx.AsyncBaseTransport):
    """GitHub answers 502 to the first request of one delivery step: the method, the end of
    the path, and (for a check run, which the live check run creates too) what its body holds."""

    def __init__(self, app: Starlette, *, method: str, path: str, body_has: str) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._method, self._path, self._body_has = method, re.compile(path), body_has
        self.failed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (
            not self.failed
            and request.method == self._method
            and self._path.search(request.url.path)
            and self._body_has in (await request.aread()).decode()
        ):
            self.failed = True
            return httpx.Response(502, json={"message": "Server Error (injected)"})
        return await self._inner.handle_async_request(request)


@pytest.mark.parametrize(
    ("method", "path", "body_has"),
    [
        ("POST", r"/repos/octocat/calc/pulls$", ""),
        ("POST", r"/repos/octocat/calc/check-runs$", '"conclusion"'),  # the delivered head's
        ("PATCH", r"/repos/octocat/calc/issues/comments/\d+$", "Done"),
    ],
)
async def test_a_job_retried_after_any_delivery_step_delivers_once(
    tmp_path: Path, method: str, path: str, body_has: str
) -> None:
    """GitHub fails one step; the job's next attempt plans again from what GitHub already has:
    the branch is not pushed again, one PR, one check run, one status comment."""
    faults: list[FailsOnce] = []

    def transport(app: Starlette) -> httpx.AsyncBaseTransport:
        faults.append(FailsOnce(app, method=method, path=path, body_has=body_has))
        return faults[-1]

    settings = {"job_max_attempts": "2", "job_retry_base_s": "0"}
    async with Stack(workdir=tmp_path, settings=settings, github_transport=transport) as stack:
        status = await labeled(stack, config(DEMO, "demo"))
        assert "✅ Done" in status, status
        assert faults[0].failed
        job = await stack.runtime.queue.get(1)
        assert job is not None
        assert job.attempts == 2  # the step failed, and the job's second attempt delivered
        [pr] = await stack.pulls(REPO)
        async with stack.user(OWNER) as user:
            checks = (await user.get(f"repos/{REPO}/commits/{pr['head']['sha']}/check-runs")).json()
        assert checks["total_count"] == 1
        hub_repo = stack.hub.repo(OWNER, "calc")
        ref = pr["head"]["ref"]
        count = await gitops.git("rev-list", "--count", f"main..{ref}", cwd=hub_repo.path)
        assert count == "1"
        assert len(await stack.status_comments(REPO, 1)) == 1
        kinds = [e["kind"] for e in await run_events(stack, "r1")]
        assert kinds.count("pushed") == 1
        assert kinds[-1] == "ended"
        assert kinds.count("ended") == 1, kinds


async def test_an_unforeseen_error_ends_the_run_with_its_id(tmp_path: Path) -> None:
    settings = {"job_max_attempts": "1"}

    def transport(app: Starlette) -> httpx.AsyncBaseTransport:
        return Corrupting(app, method="POST", path_end="/check-runs")

    async with Stack(workdir=tmp_path, settings=settings, github_transport=transport) as stack:
        status = await labeled(stack, config(DEMO, "demo"))
        assert "❌" in status, status
        assert "unexpected error (KeyError) in run `r1`" in status
        row = await stack.runtime.services.store.get_run("r1")
        assert row is not None
        assert row.status == "failed"
        assert row.finished_at is not None
        ended = (await run_events(stack, "r1"))[-1]
        assert (ended["kind"], ended["status"]) == ("ended", "failed")


# -- agents on the fake runner: what a sandboxed CLI would do, with no process started ---------

AGENT = (
    "  writer: {adapter: command, command: [writer, '{prompt_file}'],"
    " output: {format: jsonl, summary: summary}}\n"
)


def writes(name: str, text: str) -> Callable[[ProcessJob], Completed]:
    """A step of the fake runner: the agent writes `name` in its worktree and says so."""

    def step(job: ProcessJob) -> Completed:
        (job.places.worktree / name).write_text(text)
        return completed(json.dumps({"summary": f"wrote {name}"}) + "\n")

    return step


async def test_a_command_agent_runs_on_the_fake_runner_as_in_the_sandbox(tmp_path: Path) -> None:
    fake = FakeRunner(writes("notes.txt", "hello\n"))
    async with Stack(
        workdir=tmp_path,
        settings={"job_max_attempts": "1"},
        runner=fake,
        github_transport=in_process,
    ) as stack:
        status = await labeled(stack, config(AGENT, "writer"))
        assert "✅ Done" in status, status
        [job] = fake.jobs
        assert job.argv == ("writer", "/run/baton/input/prompt.md")  # the sandbox's own view
        assert job.network == "none"
        assert set(job.env) >= {"PATH", "HOME"}
        assert not any(name.startswith("BATON_") for name in job.env)
        [pr] = await stack.pulls(REPO)
        assert pr["body"].startswith("wrote notes.txt")


async def test_a_retry_on_the_pr_continues_its_branch_with_the_runs_before(tmp_path: Path) -> None:
    fake = FakeRunner(writes("notes.txt", "first\n"), writes("more.txt", "second\n"))
    async with Stack(
        workdir=tmp_path,
        settings={"job_max_attempts": "1"},
        runner=fake,
        github_transport=in_process,
    ) as stack:
        await labeled(stack, config(AGENT, "writer"))
        [pr] = await stack.pulls(REPO)
        await stack.comment(OWNER, REPO, pr["number"], "/agent retry")
        [status] = await stack.wait_final(REPO, pr["number"])
        assert "✅ Done" in status, status
        [same] = await stack.pulls(REPO)
        assert same["number"] == pr["number"]
        assert "`r1`" in same["body"]  # the first run is still in the provenance
        hub_repo = stack.hub.repo(OWNER, "calc")
        ref = same["head"]["ref"]
        count = await gitops.git("rev-list", "--count", f"main..{ref}", cwd=hub_repo.path)
        assert count == "2"
        files = await gitops.git("ls-tree", "--name-only", ref, cwd=hub_repo.path)
        assert {"notes.txt", "more.txt"} <= set(files.split())


async def test_a_change_larger_than_max_changed_lines_reaches_nothing(tmp_path: Path) -> None:
    fake = FakeRunner(writes("big.txt", "line\n" * 30))
    yml = config(AGENT, "writer") + "policy: {max_changed_lines: 10}\n"
    async with Stack(
        workdir=tmp_path,
        settings={"job_max_attempts": "1"},
        runner=fake,
        github_transport=in_process,
    ) as stack:
        status = await labeled(stack, yml)
        assert "30 lines, more than `policy.max_changed_lines` (10)" in status, status
        assert await stack.pulls(REPO) == []
        hub_repo = stack.hub.repo(OWNER, "calc")
        assert "baton/" not in await gitops.git("branch", "--list", cwd=hub_repo.path)
