"""A hostile agent in a whole run, through the local GitHub emulator: whatever it tries, the
server's secrets never reach GitHub, and a change carrying the key it was handed is not pushed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters.sandbox import sandbox_status
from bot import gitops
from bot.stack import Stack
from tests.e2e.command_agents import OWNER, REPO, read_branch, the_pr
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
HOSTILE = Path(__file__).parents[1] / "adapters" / "hostile_agent.py"


@pytest.fixture
async def secrets(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """Secrets where a server keeps them: a key file, and a process started with them."""
    status = await sandbox_status()
    if not status.ok:
        pytest.skip(f"bubblewrap cannot run here: {status.reason}")
    tag = uuid.uuid4().hex
    found = {
        "app key file": f"-----BEGIN RSA PRIVATE KEY-----\nfile-{tag}\n",
        "webhook secret": f"whsec-{tag}",
        "other vendor key": f"sk-openai-{tag}",
    }
    (tmp_path / "private-key.pem").write_text(found["app key file"])
    env = {"PATH": "/usr/bin:/bin", "BATON_WEBHOOK_SECRET": found["webhook secret"],
           "OPENAI_API_KEY": found["other vendor key"]}  # fmt: skip
    proc = await asyncio.create_subprocess_exec("sleep", "60", env=env)
    yield found
    proc.kill()
    await proc.wait()


def agents_yml(tmp_path: Path, *, own_key: bool) -> str:
    argv = ["/usr/bin/python3", "-c", HOSTILE.read_text(), "--read", str(tmp_path),
            "--read", str(Path.home()), "{prompt_file}"]  # fmt: skip
    spec = {
        "adapter": "command", "command": argv,
        **({"api_key_env": "ANTHROPIC_API_KEY",
            "env": {"ANTHROPIC_API_KEY": "${ANTHROPIC_API_KEY}"}} if own_key else {}),
        "output": {"format": "jsonl", "summary": "summary"},
    }  # fmt: skip
    return f"version: 1\nagents:\n  thief: {json.dumps(spec)}\nroutes:\n  - agent: thief\n"


@contextlib.asynccontextmanager
async def thief_ran(
    tmp_path: Path, *, own_key: bool, secrets: dict[str, str]
) -> AsyncIterator[Stack]:
    """A labeled issue routed to the hostile agent, run to its end."""
    server_env = {"ANTHROPIC_API_KEY": f"sk-ant-own-{uuid.uuid4().hex}",
                  "OPENAI_API_KEY": secrets["other vendor key"]}  # fmt: skip
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"},
                     server_env=server_env) as stack:  # fmt: skip
        files = {"calc.py": CALC, ".agents.yml": agents_yml(tmp_path, own_key=own_key)}
        await stack.create_repo(OWNER, "calc", files)
        number = await stack.open_issue(OWNER, REPO, "Fix it", "Please.")
        await stack.label(OWNER, REPO, number, "agent:fix")
        await stack.wait_final(REPO, number)
        yield stack


async def test_the_servers_secrets_never_reach_github(
    tmp_path: Path, secrets: dict[str, str]
) -> None:
    async with thief_ran(tmp_path, own_key=False, secrets=secrets) as stack:
        pr = await the_pr(stack)
        loot = await read_branch(tmp_path, pr, "loot.txt")
        assert "/proc/" in loot  # it did look
        pushed = loot + await read_branch(tmp_path, pr, "escapes.txt")
        for what, secret in {**secrets, "Baton's webhook secret": stack.secret,
                             "Baton's app key": stack.keys.private_pem}.items():  # fmt: skip
            assert secret not in pushed, f"the {what} was pushed"


async def test_a_change_carrying_the_agents_own_key_is_not_pushed(
    tmp_path: Path, secrets: dict[str, str]
) -> None:
    async with thief_ran(tmp_path, own_key=True, secrets=secrets) as stack:
        [status] = await stack.status_comments(REPO, 1)
        assert "looks like" in status, status
        assert "nothing was pushed" in status
        assert "sk-ant-own-" not in status
        assert await stack.pulls(REPO) == []
        clone_url = f"{stack.hub_server.url}/{REPO}.git"
        refs = await gitops.git("ls-remote", "--heads", clone_url, cwd=tmp_path)
        assert "baton/" not in refs
