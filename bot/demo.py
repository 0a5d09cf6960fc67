"""`baton demo`: the whole label -> agent -> PR loop on this machine, with no credentials.

Starts the local GitHub emulator and the Baton server in this process, creates a repository with
a small bug and an issue describing it, labels the issue `agent:fix` as a maintainer would, and
prints the pull request that comes back, read from the emulator as GitHub would show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.demo_report import PullFacts, report
from bot.stack import Stack, StackError
from config.defaults import HARNESS_MODELS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

OWNER = "octocat"
REPO = "calculator"

CALC = '''"""A tiny calculator."""


def add(a: int, b: int) -> int:
    """Return the sum of a and b."""
    return a - b


def sub(a: int, b: int) -> int:
    return a - b
'''

TEST = """from calc import add, sub


def test_add() -> None:
    assert add(2, 3) == 5


def test_sub() -> None:
    assert sub(5, 3) == 2
"""

AGENTS_YML = """\
# Which coding agent handles which trigger. Switching agents is a one-line change.
version: 1
agents:
  demo: {{adapter: scripted, model: scripted-1, max_cost_usd: 1}}
{extra}routes:
  - when: {{label: "agent:fix"}}
    agent: {agent}
"""

# `baton demo --agent NAME` with a real CLI: the model is the local scripted server, playing the
# fix the issue asks for through the CLI's own edit tools, with these models.
# The real CLIs the demo can drive, each with the model its built-in agent uses.
REAL_AGENTS = HARNESS_MODELS
DEMO_KEY_VAR = "BATON_DEMO_MODEL_KEY"

README = "# calculator\n\nA tiny calculator with a bug.\n"
ISSUE_TITLE = "add() subtracts instead of adding"
FIXED = CALC.replace("    return a - b\n", "    return a + b\n", 1)


def proposed_patch() -> str:
    """The fix as a unified diff, the way a reporter would paste it into the issue."""
    lines = difflib.unified_diff(
        CALC.splitlines(keepends=True), FIXED.splitlines(keepends=True), "a/calc.py", "b/calc.py"
    )
    return "".join(lines)


ISSUE_BODY = (
    "`add(2, 3)` in `calc.py` returns `-1`; it should return `5`.\n\n"
    f"Proposed fix:\n\n```diff\n{proposed_patch()}```\n"
)


@contextlib.asynccontextmanager
async def _model_for(agent: str) -> AsyncIterator[tuple[str, dict[str, str], dict[str, str]]]:
    """The `.agents.yml` entry, server env and settings that route the demo to `agent`.

    A real CLI gets the scripted model server as its base URL and a key that selects the fix.
    """
    if agent not in REAL_AGENTS:
        yield "", {}, {}
        return
    from adapters.modelserver import Edit, ModelServer, ReplaceText  # noqa: PLC0415

    body = '    """Return the sum of a and b."""\n'
    fix = Edit(
        changes=(ReplaceText("calc.py", body + "    return a - b\n", body + "    return a + b\n"),),
        summary="Fixed add() in calc.py: it subtracted b instead of adding it.",
    )
    async with ModelServer() as server:
        spec = {"adapter": agent, "model": REAL_AGENTS[agent], "base_url": server.url,
                "api_key_env": DEMO_KEY_VAR, "timeout": "5m"}  # fmt: skip
        env = {DEMO_KEY_VAR: server.register(fix), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for name in ("BATON_AGENTS_PREFIX", "BATON_AGENT_SESSIONS"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        # The demo is its own operator: the scripted model server is an allowed endpoint.
        settings = {
            "sandbox": os.environ.get("BATON_SANDBOX", "bubblewrap"),
            "model_endpoints": server.url,
        }
        yield f"  {agent}: {json.dumps(spec)}\n", env, settings


class DemoStop(Exception):
    """The demo cannot go on; the message says why and what to do."""


async def _ensure_cli(
    agent: str, out: TextIO, *, install: bool, ask: Callable[[str], bool] | None
) -> None:
    """The demo of a real CLI needs its pinned version; installing it (hundreds of MB) is asked
    for on a terminal (`ask`) and needs `--install` otherwise."""
    from adapters.process import ProcessError  # noqa: PLC0415 - only the real-agent demo
    from adapters.toolchain import default_prefix, find, harness  # noqa: PLC0415
    from adapters.toolchain import install as install_cli  # noqa: PLC0415

    h = harness(agent)
    found = await find(agent)
    if found.ok and found.version == h.version:
        return
    what = f"{h.spec} (with its dependencies, hundreds of MB) into {default_prefix()}"
    if not install:
        if ask is None:
            raise DemoStop(
                f"{agent} is not installed here: `baton demo --agent {agent} --install` installs "
                f"{what} (so does `baton agents install {agent}`)"
            )
        if not ask(f"The demo with {agent} needs {what}. Install it now? [y/N] "):
            raise DemoStop(f"{agent} is not installed; nothing was started")
    out.write(f"installing {what} (once; `baton agents install` does the same)...\n")
    out.flush()
    try:
        await install_cli([agent])
    except ProcessError as exc:
        raise DemoStop(f"could not install {h.spec}: {exc}") from exc


async def _facts(stack: Stack, repo: str, pr: dict[str, Any]) -> PullFacts:
    """What GitHub shows of the pull request's head commit: its message, checks and files."""
    head = pr["head"]["sha"]
    async with stack.user(OWNER) as user:
        commit = (await user.get(f"repos/{repo}/commits/{head}")).json()
        checks = (await user.get(f"repos/{repo}/commits/{head}/check-runs")).json()
        files = (await user.get(f"repos/{repo}/pulls/{pr['number']}/files")).json()
    return PullFacts(
        pr=pr,
        commit_message=str(commit.get("commit", {}).get("message", "")),
        check_runs=list(checks.get("check_runs", [])),
        files=list(files),
    )


async def _keep_running(stack: Stack, repo: str, out: TextIO) -> None:
    out.write(
        f"\nThe emulator and Baton keep running: {stack.hub_server.url}/{repo} shows the "
        f"repository, its issue and pull request. Baton: {stack.baton_url}. "
        "Press Ctrl-C to stop.\n"
    )
    out.flush()
    await asyncio.Event().wait()


async def _label_to_pull(
    stack: Stack, agent: str, extra_agent: str, *, timeout_s: float, out: TextIO
) -> None:
    """The loop on the running stack, told as it goes; then the pull request's report."""
    repo = f"{OWNER}/{REPO}"
    out.write(f"local GitHub emulator: {stack.hub_server.url}\n")
    out.write(f"Baton server:          {stack.baton_url}\n")
    files = {
        "calc.py": CALC,
        "test_calc.py": TEST,
        "README.md": README,
        ".agents.yml": AGENTS_YML.format(agent=agent, extra=extra_agent),
    }
    await stack.create_repo(OWNER, REPO, files)
    out.write(f"created {repo} with a bug in calc.py\n")
    number = await stack.open_issue(OWNER, repo, ISSUE_TITLE, ISSUE_BODY)
    out.write(f"opened issue #{number}: {ISSUE_TITLE}\n")
    started = time.monotonic()
    await stack.label(OWNER, repo, number, "agent:fix")
    out.write("labeled it agent:fix; waiting for the pull request...\n")
    status = (await stack.wait_final(repo, number, timeout_s=timeout_s))[-1]
    elapsed = time.monotonic() - started
    pulls = await stack.pulls(repo)
    if not pulls:
        final = "\n".join(line for line in status.splitlines() if not line.startswith("<!--"))
        raise DemoStop(f"the run ended without a pull request.\n\n{final}")
    out.write(report(await _facts(stack, repo, pulls[0]), status, elapsed))


async def run_demo(
    *,
    agent: str = "demo",
    timeout_s: float = 60.0,
    keep: bool = False,
    install: bool = False,
    ask: Callable[[str], bool] | None = None,
    out: TextIO | None = None,
) -> int:
    """The demo; 0 when a pull request came back, 1 (with the reason) otherwise. `keep`: the
    emulator and the server run on until interrupted; `ask`: a question to the person at the
    terminal (None: nobody is there to answer)."""
    out = out or sys.stdout
    agent = "demo" if agent == "scripted" else agent
    try:
        if agent in REAL_AGENTS:
            await _ensure_cli(agent, out, install=install, ask=ask)
        with tempfile.TemporaryDirectory(prefix="baton-demo-") as tmp:
            async with (
                _model_for(agent) as (extra_agent, server_env, settings),
                Stack(workdir=Path(tmp), server_env=server_env, settings=settings) as stack,
            ):
                await _label_to_pull(stack, agent, extra_agent, timeout_s=timeout_s, out=out)
                out.write(_dashboard_login(stack, keep=keep))
                if keep:
                    await _keep_running(stack, f"{OWNER}/{REPO}", out)
    except (StackError, DemoStop) as exc:
        out.write(f"\ndemo failed: {exc}\n")
        return 1
    return 0


def _dashboard_login(stack: Stack, *, keep: bool) -> str:
    """Where the run can be seen in the dashboard, and how to sign in to it there."""
    lasting = (
        "(open while the demo runs)"
        if keep
        else "(the emulator and the server stop now: `baton demo --keep` keeps them running)"
    )
    return (
        f"\nDashboard: {stack.baton_url}/runs\n"
        f"  sign in with GitHub as {OWNER} (the local emulator asks only for the login),\n"
        f"  or with the operator token {stack.dashboard_token}\n"
        f"  {lasting}\n"
    )
