"""A server killed mid-run (server and worker at once, like a crashed machine) loses nothing:
after a restart the run completes, once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from bot.stack import Stack, free_socket
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
REPO = "octocat/calc"

# An agent slow enough to be killed mid-run; it applies the issue's fix when it finishes.
SLOW_AGENT = """
import pathlib, time
time.sleep(3)
path = pathlib.Path("calc.py")
path.write_text(path.read_text().replace("return a - b", "return a + b", 1))
print("fixed add()")
"""


def agents_yml(script: Path) -> str:
    return (
        "version: 1\n"
        "agents:\n"
        f"  slow: {{adapter: command, command: [{sys.executable}, {script}], model: none}}\n"
        "routes:\n"
        '  - when: {label: "agent:fix"}\n'
        "    agent: slow\n"
    )


class Server:
    """`baton serve` as a real process group (it starts its worker child itself)."""

    def __init__(
        self,
        env: dict[str, str],
        port: int,
        cwd: Path,
        *,
        stderr: IO[str] | int = subprocess.DEVNULL,
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            env=env, cwd=cwd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"

    async def ready(self) -> None:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise AssertionError("baton serve did not start")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    async with Stack(workdir=tmp_path, baton_port=port) as running:
        yield running


async def test_killed_server_finishes_the_run_after_restart(stack: Stack, tmp_path: Path) -> None:
    script = tmp_path / "slow_agent.py"
    script.write_text(SLOW_AGENT)
    env = {**os.environ, **stack.env(), "BATON_WORKER": "process", "BATON_SANDBOX": "none",
           "BATON_LOG_LEVEL": "WARNING"}  # fmt: skip
    port = int(stack.baton_url.rsplit(":", 1)[1])
    server = Server(env, port, tmp_path)
    try:
        await server.ready()
        await stack.create_repo("octocat", "calc", {"calc.py": CALC,
                                                    ".agents.yml": agents_yml(script)})  # fmt: skip
        number = await stack.open_issue("octocat", REPO, ISSUE_TITLE, ISSUE_BODY)
        await stack.label("octocat", REPO, number, "agent:fix")
        deadline = time.monotonic() + 30
        while not any("Running" in s for s in await stack.status_comments(REPO, number)):
            assert time.monotonic() < deadline, "the run never started"
            await asyncio.sleep(0.1)
        server.kill()
        assert await stack.pulls(REPO) == []
        server = Server(env, port, tmp_path)
        await server.ready()
        [status] = await stack.wait_final(REPO, number, timeout_s=60)
        assert "✅ Done" in status
        [pr] = await stack.pulls(REPO)
        assert pr["title"] == ISSUE_TITLE
    finally:
        server.kill()
