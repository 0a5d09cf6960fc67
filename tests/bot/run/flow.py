"""What the fast run-engine tests share: Baton in-process against the emulator (REST through the
ASGI transport, real git over its socket), agents on the fake runner, and ways to read results."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

from adapters.runner import FakeRunner, ProcessJob, completed
from bot import gitops
from bot.stack import Stack
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from starlette.applications import Starlette

    from adapters.process import Completed
    from adapters.runner import Step

OWNER, REPO = "octocat", "octocat/calc"
OUTPUT = "{format: jsonl, summary: summary, cost_usd: cost, session_id: session}"


def in_process(app: Starlette) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=app)


def command_agent(name: str, **extra: str) -> str:
    """A `command` agent the fake runner answers (its argv is never run)."""
    keys = "".join(f", {k}: {v}" for k, v in extra.items())
    return (
        f"  {name}: {{adapter: command, command: [{name}, '{{prompt_file}}'],"
        f" resume: [--resume, '{{session_id}}'], output: {OUTPUT}{keys}}}\n"
    )


def yml(agents: str, route: str, *, fallback: Sequence[str] = (), extra: str = "") -> str:
    text = f"version: 1\nagents:\n{agents}routes:\n  - agent: {route}\n"
    if fallback:
        text += f"    fallback: [{', '.join(fallback)}]\n"
    return text + extra


def writes(
    files: Mapping[str, str],
    *,
    costs: Sequence[float] = (0.01,),
    session: str = "",
    saw: list[set[str]] | None = None,
    **kw: Any,
) -> Callable[[ProcessJob], Completed]:
    """A step of the fake runner: the agent writes `files` in its worktree, then streams its
    cost rising through `costs` (a cap below the last stops it there), and says what it did.
    `saw` collects the files its worktree held when it started."""

    def step(job: ProcessJob) -> Completed:
        if saw is not None:
            saw.append({p.name for p in job.places.worktree.iterdir()})
        for name, text in files.items():
            path = job.places.worktree / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        lines = [
            json.dumps({"cost": c, **({"session": session} if session else {})}) for c in costs
        ]
        summary = {"summary": f"wrote {', '.join(files) or 'nothing'}", "cost": costs[-1]}
        return completed("\n".join([*lines, json.dumps(summary)]) + "\n", **kw)

    return step


def fake(*steps: Step) -> FakeRunner:
    return FakeRunner(*steps)


async def start(
    tmp_path: Path,
    runner: FakeRunner,
    *,
    settings: Mapping[str, str] | None = None,
    clock: Callable[[], float] | None = None,
) -> Stack:
    """A Stack running Baton in this process (enter it with `async with`)."""
    merged = {"job_max_attempts": "1", **(settings or {})}
    return Stack(
        workdir=tmp_path, settings=merged, runner=runner, github_transport=in_process, clock=clock
    )


async def labeled(stack: Stack, config: str, *, files: Mapping[str, str] | None = None) -> int:
    """A repository with `config` as `.agents.yml`, an issue, the fix label; waits for the end."""
    files = {"calc.py": CALC, ".agents.yml": config, **(files or {})}
    await stack.create_repo(OWNER, "calc", files)
    number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
    await stack.label(OWNER, REPO, number, "agent:fix")
    await stack.wait_final(REPO, number)
    return number


async def branch_files(stack: Stack, ref: str) -> set[str]:
    hub_repo = stack.hub.repo(OWNER, "calc")
    return set((await gitops.git("ls-tree", "--name-only", ref, cwd=hub_repo.path)).split())


async def commits_on(stack: Stack, ref: str) -> list[str]:
    """Subjects of the commits on `ref` since main, oldest first."""
    hub_repo = stack.hub.repo(OWNER, "calc")
    out = await gitops.git(
        "log",
        "--reverse",
        "--format=%s|%(trailers:key=Agent,valueonly)",
        f"main..{ref}",
        cwd=hub_repo.path,
    )
    return [line for line in out.splitlines() if line.strip()]


async def heads(stack: Stack) -> str:
    hub_repo = stack.hub.repo(OWNER, "calc")
    return await gitops.git("for-each-ref", "--format=%(refname)", cwd=hub_repo.path)


async def run_events(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    store = stack.runtime.services.store
    return [{"kind": e.kind, **e.data} for e in await store.events(run_id)]


async def check_runs(stack: Stack, sha: str) -> list[dict[str, Any]]:
    async with stack.user(OWNER) as user:
        data: dict[str, Any] = (await user.get(f"repos/{REPO}/commits/{sha}/check-runs")).json()
    return list(data["check_runs"])
