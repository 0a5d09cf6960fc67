"""A hostile `command` agent gets none of the server's secrets and cannot write outside.

The same agent run unsandboxed (BATON_SANDBOX=none) does find them: that is what shows the theft
attempts are real and the sandbox is what stops them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters.base import AgentResult, AgentTask, Limits, RunStatus, discard_events
from adapters.command import CommandAdapter
from adapters.process import minimal_env, run
from adapters.runner import runner_for
from adapters.sandbox import SandboxMode, git_common_dir, sandbox_status
from config.schema import AgentSpec

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.anyio

PY = "/usr/bin/python3"
HOSTILE = Path(__file__).with_name("hostile_agent.py")


@dataclass
class Scene:
    """A server's secrets where a server keeps them, and a run's linked worktree."""

    worktree: Path
    common: Path
    own_key: str
    secrets: dict[str, str] = field(default_factory=dict)  # what -> value
    key_files: list[Path] = field(default_factory=list)
    server_env: dict[str, str] = field(default_factory=dict)


async def git(*args: str, cwd: Path) -> None:
    env = minimal_env(GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    await run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=cwd, env=env)


def place_key(path: Path, pem: str, placed: list[Path]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(pem)
    except OSError:
        return  # not root: the copy in the server's cwd still stands
    placed.append(path)


@pytest.fixture
async def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Scene]:
    tag = uuid.uuid4().hex
    repo, work, cwd = tmp_path / "repo", tmp_path / "work", tmp_path / "server"
    repo.mkdir()
    cwd.mkdir()
    await git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("hello\n")
    await git("add", "README.md", cwd=repo)
    await git("commit", "-q", "-m", "first", cwd=repo)
    await git("worktree", "add", "-q", "-b", "baton/1", str(work), cwd=repo)
    common = git_common_dir(work)
    assert common is not None
    secrets = {
        "app key file": f"-----BEGIN RSA PRIVATE KEY-----\nfile-{tag}\n",
        "app key variable": f"-----BEGIN RSA PRIVATE KEY-----\nenv-{tag}\n",
        "webhook secret": f"whsec-{tag}",
        "installation token": f"ghs_{tag}",
        "other vendor key": f"sk-openai-{tag}",
    }
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", secrets["webhook secret"])
    monkeypatch.setenv("BATON_PRIVATE_KEY", secrets["app key variable"])
    monkeypatch.setenv("GITHUB_TOKEN", secrets["installation token"])
    monkeypatch.setenv("OPENAI_API_KEY", secrets["other vendor key"])
    own = f"sk-ant-own-{tag}"
    monkeypatch.setenv("ANTHROPIC_API_KEY", own)
    placed: list[Path] = []
    for path in (
        Path(f"/etc/baton-test-{tag[:12]}/private-key.pem"),
        Path.home() / f".baton-test-{tag[:12]}" / "private-key.pem",
        cwd / "private-key.pem",
    ):
        place_key(path, secrets["app key file"], placed)
    yield Scene(
        worktree=work, common=common, own_key=own, secrets=secrets, key_files=placed,
        server_env=dict(os.environ),
    )  # fmt: skip
    for path in placed:
        path.unlink()
        if path.parent != cwd:
            path.parent.rmdir()


@pytest.fixture
async def server_processes(scene: Scene) -> AsyncIterator[None]:
    """Processes started with secrets in their environment: a server, and a `git push`.

    (/proc/<pid>/environ shows what a process was started with, not later `setenv`s.)
    """
    server_env = {
        "PATH": "/usr/bin:/bin",
        "BATON_WEBHOOK_SECRET": scene.secrets["webhook secret"],
        "BATON_PRIVATE_KEY": scene.secrets["app key variable"],
        "OPENAI_API_KEY": scene.secrets["other vendor key"],
    }
    push_env = {"PATH": "/usr/bin:/bin", "GIT_CONFIG_VALUE_0": scene.secrets["installation token"]}
    procs = [
        await asyncio.create_subprocess_exec("sleep", "60", env=env)
        for env in (server_env, push_env)
    ]
    yield
    for proc in procs:
        proc.kill()
        await proc.wait()


def hostile_spec(scene: Scene, writes: list[Path]) -> AgentSpec:
    argv = [PY, "-c", HOSTILE.read_text()]
    reads = [*scene.key_files, Path.cwd(), Path(f"/proc/{os.getpid()}/environ"), Path("/root")]
    for path in reads:
        argv += ["--read", str(path)]
    for path in writes:
        argv += ["--write", str(path)]
    return AgentSpec.model_validate({
        "adapter": "command",
        "command": [*argv, "{prompt_file}"],
        "api_key_env": "ANTHROPIC_API_KEY",  # its own key: the one model key it may expand
        "env": {"ANTHROPIC_API_KEY": "${ANTHROPIC_API_KEY}"},
        "output": {"format": "jsonl", "summary": "summary"},
    })  # fmt: skip


async def run_hostile(scene: Scene, mode: SandboxMode, writes: list[Path]) -> AgentResult:
    adapter = CommandAdapter(
        spec=hostile_spec(scene, writes), agent="hostile", server_env=scene.server_env,
        runner=runner_for(mode),
    )  # fmt: skip
    return await adapter.run(AgentTask(prompt="steal"), scene.worktree, Limits(), discard_events)


def worktree_bytes(worktree: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(worktree.rglob("*")) if p.is_file())


async def test_hostile_agent_gets_nothing_and_writes_nowhere(
    scene: Scene, server_processes: None, tmp_path: Path
) -> None:
    status = await sandbox_status()
    if not status.ok:
        pytest.skip(f"bubblewrap cannot run here: {status.reason}")
    hooks = scene.common / "hooks"
    before = {p.name: p.read_bytes() for p in hooks.iterdir()}
    config = (scene.common / "config").read_bytes()
    dot_git = (scene.worktree / ".git").read_bytes()
    writes = [
        *(path.parent / "planted" for path in scene.key_files),
        tmp_path / "outside.txt",
        hooks / "pre-push",
    ]
    result = await run_hostile(scene, "bubblewrap", writes)
    assert result.status is RunStatus.SUCCESS, result.error
    loot = (scene.worktree / "loot.txt").read_text()
    # It did read what it was given: its own key is in its environment.
    assert f"ANTHROPIC_API_KEY={scene.own_key}" in loot
    everything = worktree_bytes(scene.worktree)
    for what, secret in scene.secrets.items():
        assert secret.encode() not in everything, f"the {what} reached the worktree"
        assert secret not in result.summary
    # A write that worked inside landed in the sandbox's private /tmp, never on the host.
    attempts = (scene.worktree / "escapes.txt").read_text().splitlines()
    worked = [line.split()[1].rstrip(":") for line in attempts if line.endswith("WORKED")]
    assert len(attempts) >= len(writes)
    for path in [*writes, *map(Path, worked)]:
        assert not path.exists(), path
    assert {p.name: p.read_bytes() for p in hooks.iterdir()} == before
    assert (scene.common / "config").read_bytes() == config
    assert (scene.worktree / ".git").read_bytes() == dot_git


async def test_unsandboxed_the_same_agent_finds_the_secrets(
    scene: Scene, server_processes: None
) -> None:
    result = await run_hostile(scene, "none", writes=[])
    assert result.status is RunStatus.SUCCESS, result.error
    loot = (scene.worktree / "loot.txt").read_text()
    assert scene.secrets["app key file"] in loot
    for secret in scene.secrets.values():
        assert secret in loot
