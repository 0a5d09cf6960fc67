"""What the comment-command tests share: test agents (one small Python script run by the
`command` adapter, its behaviour chosen per agent in `.agents.yml`), the test repository, and
ways to wait for and read what Baton wrote."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx

from bot import gitops
from bot.stack import Stack, StackError
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

OWNER = "octocat"
REPO = "octocat/calc"
TASK_TITLE = "Keep notes"
TASK_BODY = "Write who worked on this into `notes.txt`."
REPLY = "<!-- baton:reply -->"

# argv: prompt_file name mode logdir. Every agent leaves the brief it received in the worktree
# (so a test reads it from the pushed branch) and logs start/end times outside it.
SCRIPT = r"""
import json, os, pathlib, subprocess, sys, time
prompt_file, name, mode, logdir = sys.argv[1:5]
log = pathlib.Path(logdir)
log.mkdir(parents=True, exist_ok=True)
if sys.argv[5:6] == ["--resume"]:
    with open(log / "resumed.log", "a") as f:
        f.write(f"{name} {sys.argv[6]}\n")
def note(line):
    with open(log / "events.log", "a") as f:
        f.write(f"{name} {line} {time.time():.6f}\n")
note("start")
brief = pathlib.Path(prompt_file).read_text()
if mode == "fail":  # gets part of the way, then gives up
    pathlib.Path("partial.txt").write_text(f"{name} got this far\n")
    note("end")
    sys.exit(f"{name}: the model said no")
if mode == "budget":
    for i in range(1, 40):
        print(json.dumps({"cost": 0.05 * i}), flush=True)
        time.sleep(0.05)
    note("end")
    sys.exit(0)
if mode in {"hang", "stall"}:  # until stopped, with a child process that must go too
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(json.dumps({"cost": 0.02}), flush=True)
    (log / f"{name}.pids").write_text(f"{os.getpid()} {child.pid}\n")
    time.sleep(60)
if mode.startswith("sleep"):
    time.sleep(float(mode[5:]))
if mode == "gate":  # says it is working, then waits until the test lets it finish
    (log / f"{name}.waiting").write_text("")
    while not (log / "go").exists():
        time.sleep(0.05)
if mode == "leak":  # writes the model key it was handed into the change
    pathlib.Path("config.txt").write_text(os.environ["LEAK"] + "\n")
pathlib.Path("received-brief.md").write_text(brief)
with open("notes.txt", "a") as f:
    f.write(f"{name} was here\n")
n = len(list(log.glob(f"{name}.run*"))) + 1
(log / f"{name}.run{n}").write_text(brief)
note("end")
print(json.dumps({"text": f"{name} wrote notes.txt (run {n})", "cost": 0.01 * n,
                  "session": f"{name}-session-{n}", "model": f"{name}-model",
                  "usage": {"in": 1000, "out": 100}}))
"""

OUTPUT = {
    "format": "jsonl", "summary": "text", "cost_usd": "cost", "session_id": "session",
    "model": "model", "input_tokens": "usage.in", "output_tokens": "usage.out",
}  # fmt: skip


# A budget agent reports rising cost: its cap stops it part-way; a stalling one times out. At
# the limit each hands over to the next agent of its route, if there is one.
MODE_SPEC: dict[str, dict[str, object]] = {
    "budget": {"max_cost_usd": 0.1, "on_budget": "handoff"},
    "stall": {"timeout": "1s", "on_timeout": "handoff"},
    "leak": {"api_key_env": "ACME_MODEL_KEY", "env": {"LEAK": "${ACME_MODEL_KEY}"}},
}


def write_script(tmp_path: Path) -> Path:
    path = tmp_path / "agent.py"
    path.write_text(SCRIPT)
    return path


def agent_spec(script: Path, logdir: Path, name: str, mode: str = "ok", **extra: object) -> str:
    """One `.agents.yml` agent entry (flow style) for the test agent."""
    spec = {
        "adapter": "command",
        "model": f"{name}-model",
        "command": [sys.executable, str(script), "{prompt_file}", name, mode, str(logdir)],
        "output": OUTPUT,
        "resume": ["--resume", "{session_id}"],
        **extra,
    }
    return f"  {name}: {json.dumps(spec)}\n"


def config(
    script: Path,
    logdir: Path,
    agents: dict[str, str],
    *,
    route: str,
    fallback: tuple[str, ...] = (),
    extra: str = "",
) -> str:
    """`.agents.yml` with the given agents (name -> mode) and one route for `agent:fix`."""
    text = "version: 1\nagents:\n"
    for name, mode in agents.items():
        text += agent_spec(script, logdir, name, mode, **MODE_SPEC.get(mode, {}))
    text += f'routes:\n  - when: {{label: "agent:fix"}}\n    agent: {route}\n'
    if fallback:
        text += f"    fallback: [{', '.join(fallback)}]\n"
    return text + extra


class Repo:
    """The test repository, its issue, and what the test agents logged."""

    def __init__(self, stack: Stack, tmp_path: Path) -> None:
        self.stack = stack
        self.tmp = tmp_path
        self.logdir = tmp_path / "agent-log"
        self.script = write_script(tmp_path)
        self.clone_url = ""

    async def create(
        self, agents: dict[str, str], *, route: str = "claude", fallback: tuple[str, ...] = (),
        extra: str = "",
    ) -> int:  # fmt: skip
        yml = config(self.script, self.logdir, agents, route=route, fallback=fallback, extra=extra)
        files = {"calc.py": CALC, ".agents.yml": yml}
        self.clone_url = await self.stack.create_repo(OWNER, "calc", files)
        return await self.stack.open_issue(OWNER, REPO, TASK_TITLE, TASK_BODY)

    def events(self) -> list[tuple[str, str, float]]:
        path = self.logdir / "events.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(a, b, float(c)) for a, b, c in (line.split() for line in lines)]

    def brief(self, agent: str, run: int = 1) -> str:
        return (self.logdir / f"{agent}.run{run}").read_text()


async def until(
    probe: Callable[[], Any], what: str, timeout_s: float = 30.0
) -> Any:  # fmt: skip
    """Poll an async probe until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise StackError(f"timed out waiting for {what}")


async def reply(stack: Stack, number: int, count: int = 1) -> str:
    """The `count`-th control reply on the issue or PR (waits for it)."""

    async def probe() -> list[str]:
        found = [c["body"] for c in await stack.comments(REPO, number) if REPLY in c["body"]]
        return found if len(found) >= count else []

    found: list[str] = await until(probe, f"{count} replies on #{number}")
    return found[count - 1]


async def settle(stack: Stack) -> None:
    """Every webhook delivered and every job Baton queued for it finished."""
    await stack.hub.wait_for_deliveries()

    async def idle() -> bool:
        async with httpx.AsyncClient(base_url=stack.baton_url) as client:
            health: dict[str, int] = (await client.get("/healthz")).json()
        return health["queued"] == 0 and health["running"] == 0

    await until(idle, "Baton's queue to be idle")


async def reactions(stack: Stack, path: str) -> set[tuple[str, str]]:
    async with stack.user(OWNER) as user:
        data = (await user.get(f"repos/{REPO}/{path}/reactions")).json()
    return {(r["content"], r["user"]["login"]) for r in data}


async def read_branch(tmp_path: Path, pr: dict[str, Any], path: str) -> str:
    clone = tmp_path / f"clone-{time.monotonic_ns()}"
    await gitops.git("clone", "-q", "--branch", pr["head"]["ref"],
                     pr["head"]["repo"]["clone_url"], str(clone), cwd=tmp_path)  # fmt: skip
    return (clone / path).read_text()


async def the_pr(stack: Stack) -> dict[str, Any]:
    [pr] = await stack.pulls(REPO)
    return pr


async def review_comment(stack: Stack, login: str, pr: dict[str, Any], path: str,
                         body: str) -> int:  # fmt: skip
    async with stack.user(login) as user:
        resp = await user.post(f"repos/{REPO}/pulls/{pr['number']}/comments", json={
            "body": body, "path": path, "line": 1, "commit_id": pr["head"]["sha"],
        })  # fmt: skip
        resp.raise_for_status()
        return int(resp.json()["id"])
