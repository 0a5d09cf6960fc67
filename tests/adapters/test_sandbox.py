"""The bubblewrap sandbox: what an agent process can see, write and reach, and that it dies."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters import sandbox as sandbox_module
from adapters.base import AgentTask, Limits, RunStatus, discard_events
from adapters.command import CommandAdapter
from adapters.netforward import EndpointError, parse_endpoint
from adapters.process import minimal_env, run
from adapters.registry import build_adapter
from adapters.runner import HostRunner, Places, ProcessJob, SandboxRunner
from adapters.sandbox import (
    ResourceLimits,
    SandboxPlan,
    SandboxStatus,
    SandboxUnavailable,
    bwrap_args,
    git_common_dir,
    run_sandboxed,
    sandbox_status,
)
from config.schema import AgentSpec
from config.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from adapters.process import Completed

pytestmark = pytest.mark.anyio

# The sandbox's own interpreter (Debian's python3): the test's venv lives under /root, unmounted.
PY = "/usr/bin/python3"
SECRET = "whsec-" + uuid.uuid4().hex


@pytest.fixture
async def bwrap() -> None:
    status = await sandbox_status()
    if not status.ok:
        pytest.skip(f"bubblewrap cannot run here: {status.reason}")


def make_plan(tmp_path: Path, **fields: object) -> SandboxPlan:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    return SandboxPlan(worktree=work, home=home, **fields)  # type: ignore[arg-type]


async def inside(plan: SandboxPlan, code: str, timeout_s: float = 30) -> Completed:
    done = await run_sandboxed(plan, [PY, "-c", code], timeout_s=timeout_s)
    assert done.returncode == 0, done.err
    return done


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def none_left(marker: str) -> list[int]:
    """Processes still carrying `marker` after the pid namespace had a moment to go."""
    for _ in range(50):
        if not processes_with(marker):
            return []
        await asyncio.sleep(0.1)
    return processes_with(marker)


async def test_sees_only_the_plan_environment(
    tmp_path: Path, bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", SECRET)
    plan = make_plan(tmp_path, env={"ANTHROPIC_API_KEY": "sk-own", "LANG": "C.UTF-8"})
    done = await inside(plan, "import os, json; print(json.dumps(dict(os.environ)))")
    env = json.loads(done.out)
    # bwrap itself adds PWD (the --chdir directory); nothing else comes from outside the plan.
    assert set(env) == {"ANTHROPIC_API_KEY", "HOME", "LANG", "PATH", "PWD"}
    assert env["ANTHROPIC_API_KEY"] == "sk-own"
    assert env["HOME"] == "/home/agent"


def test_the_key_travels_in_the_environment_not_argv(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, env={"ANTHROPIC_API_KEY": SECRET})
    args = bwrap_args(plan, ["agent"], bwrap="bwrap", private=tmp_path, relay=None)
    assert not any(SECRET in arg for arg in args)


async def test_server_processes_are_invisible_through_proc(
    tmp_path: Path, bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", SECRET)
    code = (
        "import json, pathlib\n"
        "seen = {}\n"
        "for p in pathlib.Path('/proc').iterdir():\n"
        "    if p.name.isdigit():\n"
        "        for n in ('environ', 'cmdline'):\n"
        "            try: seen[p.name + n] = (p / n).read_bytes().decode('utf-8', 'replace')\n"
        "            except OSError as e: seen[p.name + n] = e.strerror\n"
        "print(json.dumps(seen))\n"
    )
    done = await inside(make_plan(tmp_path, env={}), code)
    assert SECRET not in done.out
    seen = json.loads(done.out)
    # Only the sandbox's own processes exist there: bwrap's init and the probe itself.
    programs = {v.split("\0")[0] for k, v in seen.items() if k.endswith("cmdline")}
    assert programs == {shutil.which("bwrap"), PY}


async def test_writes_land_only_in_worktree_home_and_a_private_tmp(
    tmp_path: Path, bwrap: None
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "prompt.md").write_text("the task")
    name = "baton-sbx-test-" + uuid.uuid4().hex
    plan = make_plan(tmp_path, env={}, inputs=inputs)
    code = (
        "import json, os, sys\n"
        "res = {'tmp_before': os.listdir('/tmp')}\n"
        "res['prompt'] = open('/run/baton/input/prompt.md').read()\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        open(path, 'w').write('x'); res[path] = 'ok'\n"
        "    except OSError as e: res[path] = e.strerror\n"
        "print(json.dumps(res))\n"
    )  # fmt: skip
    targets = [
        "/workspace/ok.txt", "/home/agent/ok.txt", f"/tmp/{name}", f"/var/tmp/{name}-v",
        "/etc/evil", "/usr/evil", "/evil", "/run/baton/input/prompt.md",
        str(tmp_path / "outside.txt"), "/proc/sys/vm/swappiness", "/proc/sys/kernel/hostname",
    ]  # fmt: skip
    done = await run_sandboxed(plan, [PY, "-c", code, *targets], timeout_s=30)
    res = json.loads(done.out)
    assert res.pop("tmp_before") == []
    assert res.pop("prompt") == "the task"
    ok = {path for path, outcome in res.items() if outcome == "ok"}
    assert ok == {"/workspace/ok.txt", "/home/agent/ok.txt", f"/tmp/{name}", f"/var/tmp/{name}-v"}
    assert (tmp_path / "work" / "ok.txt").read_text() == "x"
    assert (tmp_path / "home" / "ok.txt").read_text() == "x"
    assert not Path(f"/tmp/{name}").exists()
    assert not Path(f"/var/tmp/{name}-v").exists()
    assert not (tmp_path / "outside.txt").exists()
    assert (inputs / "prompt.md").read_text() == "the task"


async def git(*args: str, cwd: Path) -> str:
    env = minimal_env(GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    done = await run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=cwd, env=env)
    return done.out


@pytest.fixture
async def linked_worktree(tmp_path: Path) -> Path:
    """A repo and a linked worktree, as Baton's workspaces make them (the git dir is elsewhere)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    await git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("hello\n")
    await git("add", "README.md", cwd=repo)
    await git("commit", "-q", "-m", "first commit", cwd=repo)
    await git("worktree", "add", "-q", "-b", "baton/1", str(tmp_path / "work"), cwd=repo)
    return tmp_path / "work"


async def test_git_works_inside_but_its_dir_is_read_only(
    tmp_path: Path, bwrap: None, linked_worktree: Path
) -> None:
    common = git_common_dir(linked_worktree)
    assert common == (tmp_path / "repo" / ".git").resolve()
    dot_git = (linked_worktree / ".git").read_text()
    (linked_worktree / "README.md").write_text("changed\n")
    plan = make_plan(tmp_path, env={}, git_dir=common)
    code = (
        "import json, subprocess, sys\n"
        "def git(*a): return subprocess.run(['git', *a], capture_output=True, text=True)\n"
        "log, diff = git('log', '-1', '--format=%s'), git('diff', '--stat')\n"
        "res = {'log': log.stdout.strip(), 'diff': diff.stdout}\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        open(path, 'a').write('echo pwned\\n'); res[path] = 'ok'\n"
        "    except OSError as e: res[path] = e.strerror\n"
        "print(json.dumps(res))\n"
    )  # fmt: skip
    hooks = str(common / "hooks" / "pre-commit") if common else ""
    config = str(common / "config") if common else ""
    done = await run_sandboxed(
        plan, [PY, "-c", code, hooks, config, "/workspace/.git"], timeout_s=30
    )
    res = json.loads(done.out)
    assert res["log"] == "first commit"
    assert "README.md" in res["diff"]
    assert res[hooks] == res[config] == res["/workspace/.git"] == "Read-only file system"
    assert (linked_worktree / ".git").read_text() == dot_git
    assert common is not None
    assert not (common / "hooks" / "pre-commit").exists()


def test_a_forged_git_file_mounts_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").write_text("gitdir: /etc\n")
    assert git_common_dir(work) is None


@pytest.fixture
def server_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """An app key where servers keep one: /etc, root's home, and the server's cwd."""
    tag = uuid.uuid4().hex[:12]
    cwd = tmp_path / "server"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    candidates = [
        Path(f"/etc/baton-test-{tag}/private-key.pem"),
        Path.home() / f".baton-test-{tag}" / "private-key.pem",
        cwd / "private-key.pem",
    ]
    placed = []
    for path in candidates:
        try:
            path.parent.mkdir(parents=True)
            path.write_text(SECRET)
        except OSError:
            continue  # not root: the cwd copy still stands for the rest
        placed.append(path)
    yield placed
    for path in placed:
        path.unlink()
        if path.parent != cwd:
            path.parent.rmdir()


async def test_server_key_files_are_not_there(
    tmp_path: Path, bwrap: None, server_secrets: list[Path]
) -> None:
    code = (
        "import sys\n"
        "for path in sys.argv[1:]:\n"
        "    try: print(path, open(path).read())\n"
        "    except OSError as e: print(path, e.strerror)\n"
    )
    targets = [str(p) for p in server_secrets] + ["/root", "/etc/shadow"]
    done = await run_sandboxed(
        make_plan(tmp_path, env={}), [PY, "-c", code, *targets], timeout_s=30
    )
    assert SECRET not in done.out
    assert done.out.count("No such file or directory") == len(targets)


async def test_no_capabilities_and_an_unprivileged_user(tmp_path: Path, bwrap: None) -> None:
    code = "import os; print(os.getuid()); print(open('/proc/self/status').read())"
    done = await inside(make_plan(tmp_path, env={}), code)
    status = dict(line.split(":\t", 1) for line in done.out.splitlines()[1:] if ":\t" in line)
    assert done.out.splitlines()[0] == "1000"
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, cap


async def test_resource_limits_apply(tmp_path: Path, bwrap: None) -> None:
    limits = ResourceLimits(fsize_bytes=1024 * 1024, data_bytes=2 * 1024**3)
    code = (
        "import errno\n"
        "print([l for l in open('/proc/self/limits') if l.startswith('Max data size')][0])\n"
        "try:\n"
        "    open('big', 'wb').write(b'x' * (2 * 1024 * 1024)); print('wrote 2 MiB')\n"
        "except OSError as e: print(errno.errorcode[e.errno])\n"
    )
    done = await inside(make_plan(tmp_path, env={}, limits=limits), code)
    assert str(2 * 1024**3) in done.out
    assert "EFBIG" in done.out


@pytest.mark.slow
async def test_timeout_leaves_no_process(tmp_path: Path, bwrap: None) -> None:
    marker = "baton-sbx-marker-" + uuid.uuid4().hex
    code = (
        "import subprocess, sys, time\n"
        "sh = ['/bin/sh', '-c', 'sleep 300; : ' + sys.argv[1]]\n"
        "subprocess.Popen(sh, start_new_session=True)\n"
        "print('started', flush=True)\n"
        "time.sleep(300)\n"
    )  # fmt: skip
    plan = make_plan(tmp_path, env={})
    done = await run_sandboxed(plan, [PY, "-c", code, marker], timeout_s=1.0)
    assert done.timed_out
    assert "started" in done.out
    assert await none_left(marker) == []


@pytest.mark.slow
async def test_cancel_leaves_no_process(tmp_path: Path, bwrap: None) -> None:
    marker = "baton-sbx-marker-" + uuid.uuid4().hex
    code = (
        "import pathlib, subprocess, sys, time\n"
        "subprocess.Popen(['/bin/sh', '-c', 'sleep 300; : ' + sys.argv[1]])\n"
        "pathlib.Path('started').write_text('yes')\n"
        "time.sleep(300)\n"
    )
    plan = make_plan(tmp_path, env={})
    task = asyncio.create_task(run_sandboxed(plan, [PY, "-c", code, marker], timeout_s=60))
    for _ in range(100):
        if (plan.worktree / "started").exists():
            break
        await asyncio.sleep(0.05)
    assert processes_with(marker)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await none_left(marker) == []


class Servers:
    """A stand-in model API (HTTP) and another host service (say PostgreSQL) on loopback."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.model_port = 0
        self.other_port = 0

    async def model(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        self.paths.append(line.decode().split()[1])
        while (await reader.readline()) not in {b"\r\n", b""}:
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nmodel ok")
        await writer.drain()
        writer.close()

    @staticmethod
    async def other(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        del reader
        writer.write(b"pg")
        await writer.drain()
        writer.close()


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    state = Servers()
    model = await asyncio.start_server(state.model, "127.0.0.1", 0)
    other = await asyncio.start_server(state.other, "127.0.0.1", 0)
    state.model_port = model.sockets[0].getsockname()[1]
    state.other_port = other.sockets[0].getsockname()[1]
    async with model, other:
        yield state


NET_PROBE = (
    "import os, socket, sys, urllib.request\n"
    "url = os.environ['MODEL_URL'] + '/messages'\n"
    "try: print('model:', urllib.request.urlopen(url, timeout=5).read().decode())\n"
    "except OSError as e: print('model: failed', e)\n"
    "s = socket.socket(); s.settimeout(5)\n"
    "try: s.connect(('127.0.0.1', int(sys.argv[1]))); print('other:', s.recv(2).decode())\n"
    "except OSError as e: print('other: failed', e.strerror)\n"
)  # fmt: skip


async def test_network_host_reaches_host_loopback(
    tmp_path: Path, bwrap: None, servers: Servers
) -> None:
    url = f"http://127.0.0.1:{servers.model_port}/v1"
    plan = make_plan(tmp_path, env={"MODEL_URL": url}, network="host")
    done = await run_sandboxed(plan, [PY, "-c", NET_PROBE, str(servers.other_port)], timeout_s=30)
    assert "model: model ok" in done.out
    assert "other: pg" in done.out


async def test_network_none_relays_only_the_model_api(
    tmp_path: Path, bwrap: None, servers: Servers
) -> None:
    url = f"http://127.0.0.1:{servers.model_port}/v1"
    plan = make_plan(tmp_path, env={"MODEL_URL": url}, network="none", model_endpoint=url)
    done = await run_sandboxed(plan, [PY, "-c", NET_PROBE, str(servers.other_port)], timeout_s=30)
    assert done.returncode == 0, done.err
    assert "model: model ok" in done.out
    assert "other: failed Connection refused" in done.out
    assert servers.paths == ["/v1/messages"]


async def test_network_none_without_an_endpoint_reaches_nothing(
    tmp_path: Path, bwrap: None, servers: Servers
) -> None:
    plan = make_plan(tmp_path, env={"MODEL_URL": "http://127.0.0.1:1/v1"}, network="none")
    done = await run_sandboxed(plan, [PY, "-c", NET_PROBE, str(servers.other_port)], timeout_s=30)
    assert "other: failed Connection refused" in done.out
    assert servers.paths == []


async def test_network_none_needs_an_http_endpoint(tmp_path: Path, bwrap: None) -> None:
    ftp = make_plan(tmp_path, env={}, network="none", model_endpoint="ftp://api.example/v1")
    with pytest.raises(EndpointError, match="network `host`"):
        await run_sandboxed(ftp, ["true"], timeout_s=5)


def test_endpoint_origin() -> None:
    assert parse_endpoint("http://127.0.0.1:4000/v1").origin == "http://127.0.0.1:4000"
    gateway = parse_endpoint("http://gateway.internal/openai")
    assert gateway.origin == "http://gateway.internal:80"
    assert (gateway.host, gateway.port) == ("gateway.internal", 80)
    with pytest.raises(EndpointError, match="credentials"):
        parse_endpoint("http://user:pw@gateway/v1")


async def test_missing_bwrap_is_reported_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "_status", None)
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap there
    status = await sandbox_status()
    assert not status.ok
    assert "not installed" in status.reason
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    job = ProcessJob(name="claude", argv=("true",), places=Places(worktree=work, home=home), env={})
    with pytest.raises(SandboxUnavailable) as err:
        await SandboxRunner().run(job)
    assert "agent claude needs the sandbox" in str(err.value)
    assert "apt-get install bubblewrap" in str(err.value)
    assert "BATON_SANDBOX=none" in str(err.value)


async def test_opting_out_warns_on_every_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = ProcessJob(
        name="claude",
        argv=("true",),
        places=Places(worktree=tmp_path, home=tmp_path),
        env=minimal_env(),
    )
    with caplog.at_level(logging.WARNING, logger="adapters.runner"):
        assert (await HostRunner().run(job)).returncode == 0
        assert (await HostRunner().run(job)).returncode == 0
    warnings = [r for r in caplog.records if "UNSANDBOXED" in r.getMessage()]
    assert len(warnings) == 2
    assert "agent claude runs UNSANDBOXED" in warnings[0].getMessage()


def command_spec(code: str, *args: str) -> AgentSpec:
    return AgentSpec.model_validate({
        "adapter": "command", "command": [PY, "-c", code, *args],
        "output": {"format": "json", "summary": "text"},
    })  # fmt: skip


async def test_command_agent_refuses_to_run_without_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "_status", SandboxStatus(ok=False, reason="no bwrap"))
    work = tmp_path / "work"
    work.mkdir()
    spec = command_spec("open('ran', 'w').write('yes')")
    adapter = build_adapter(agent="mine", spec=spec, server_env={})
    result = await adapter.run(AgentTask(prompt="x"), work, Limits(), discard_events)
    assert result.status is RunStatus.FAILED
    assert "apt-get install bubblewrap" in result.error
    assert not (work / "ran").exists()


async def test_command_agent_runs_sandboxed(
    tmp_path: Path, bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", SECRET)
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import json, os, sys\n"
        "prompt = open(sys.argv[1]).read()\n"
        "open('out.txt', 'w').write(prompt.upper())\n"
        "seen = [sys.argv[1], sys.argv[2], os.getcwd(), *sorted(os.environ)]\n"
        "print(json.dumps({'text': ' '.join(seen)}))\n"
    )  # fmt: skip
    spec = command_spec(code, "{prompt_file}", "{workdir}")
    adapter = CommandAdapter(spec=spec, agent="mine", server_env={}, runner=SandboxRunner())
    result = await adapter.run(AgentTask(prompt="make it so"), work, Limits(), discard_events)
    assert result.status is RunStatus.SUCCESS, result.error
    assert (work / "out.txt").read_text() == "MAKE IT SO"
    assert result.summary.split() == [
        "/run/baton/input/prompt.md", "/workspace", "/workspace", "HOME", "LANG", "PATH", "PWD",
    ]  # fmt: skip


def test_setting_selects_the_sandbox() -> None:
    assert load_settings({}).sandbox == "bubblewrap"
    assert load_settings({"BATON_SANDBOX": "none"}).sandbox == "none"
    with pytest.raises(SettingsError, match="BATON_SANDBOX"):
        load_settings({"BATON_SANDBOX": "docker"})
    spec = command_spec("pass")
    by_default = build_adapter(agent="a", spec=spec, server_env={})
    assert isinstance(by_default._runner, SandboxRunner)  # type: ignore[attr-defined]
    opted_out = build_adapter(agent="a", spec=spec, server_env={}, sandbox="none")
    assert isinstance(opted_out._runner, HostRunner)  # type: ignore[attr-defined]
    given = HostRunner()
    assert build_adapter(agent="a", spec=spec, server_env={}, runner=given)._runner is given  # type: ignore[attr-defined]
