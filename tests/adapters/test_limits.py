"""Per-run bounds for real: bubblewrap, cgroups and loop-mounted images, as root.

As root, a missing mechanism is a failure that says what is missing: a root server is promised
these bounds. Not as root, the tests that need root skip saying why.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from adapters import cgroups, diskquota
from adapters.base import GIB, AgentTask, Limits, Resources, RunStatus, discard_events
from adapters.command import CommandAdapter
from adapters.runlimits import LimitReached, enforcement
from adapters.runner import SandboxRunner
from adapters.sandbox import SandboxPlan, run_sandboxed, sandbox_status
from bot import gitops, workspaces
from bot.github import InstallationToken
from config.schema import AgentSpec
from tests.gitrepos import seeded_origin

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PY = "/usr/bin/python3"  # the sandbox's interpreter (the venv's lives under /root, unmounted)
MIB = 1024**2
TOKEN = InstallationToken(SecretStr("ghs_" + "t" * 36), 2e9)
# Many 1 MiB files, not one big one: RLIMIT_FSIZE cannot stop this, only a per-run bound can.
FILL = (
    "import os, sys, time\n"
    "where, pace = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0\n"
    "os.makedirs(where, exist_ok=True)\n"
    "for i in range(100000):\n"
    "    try:\n"
    "        with open(os.path.join(where, f'f{i}'), 'wb') as f: f.write(os.urandom(1 << 20))\n"
    "    except OSError as e: print('stopped', i, e, flush=True); break\n"
    "    time.sleep(pace)\n"
    "time.sleep(60)\n"
)


@pytest.fixture(autouse=True)
def no_mount_outlives(tmp_path: Path) -> Iterator[None]:
    """What a failed test left mounted under its tmp_path goes (the tests assert the cleanup)."""
    yield
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        point = line.split()[4]
        if point.startswith(str(tmp_path)):
            subprocess.run(["umount", "--lazy", point], check=False)


async def root_mechanisms() -> cgroups.Hierarchy:
    """What a root server is promised; as root, a missing one fails the test, saying which."""
    if os.geteuid() != 0:
        pytest.skip(
            f"uid {os.geteuid()} is not root: it can neither make cgroups nor mount loop images"
        )
    status = await sandbox_status()
    if not status.ok:
        pytest.fail(f"running as root, but bubblewrap cannot run: {status.reason}")
    where = cgroups.hierarchy()
    if isinstance(where, str):
        pytest.fail(f"running as root, but no usable cgroups: {where}")
    why = diskquota.mount_unavailable()
    if why is not None:
        pytest.fail(f"running as root, but no loop images: {why}")
    return where


@pytest.fixture
async def bwrap() -> None:
    status = await sandbox_status()
    if not status.ok:
        pytest.skip(f"bubblewrap cannot run here: {status.reason}")


def own_groups(where: cgroups.Hierarchy) -> list[Path]:
    return [p for parent in where.parents for p in parent.glob(f"baton-run-{os.getpid()}-*")]


def mounted_at(path: Path) -> bool:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return str(path) in points


def plan_in(tmp_path: Path, resources: Resources) -> SandboxPlan:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(parents=True)
    home.mkdir(parents=True)
    return SandboxPlan(worktree=work, home=home, env={}, resources=resources)


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    return seeded_origin(tmp_path, {"README": "hello\n"}).parent / "origin.git"


async def prepare(ws: workspaces.Workspaces, origin: Path, run_id: str) -> gitops.Worktree:
    return await ws.prepare(
        repo="acme/app",
        clone_url=str(origin),
        token=TOKEN,
        run_id=run_id,
        branch=f"baton/{run_id}",
        start="main",
    )


async def test_a_fork_bomb_is_stopped_at_the_process_limit(tmp_path: Path) -> None:
    where = await root_mechanisms()
    plan = plan_in(tmp_path, Resources(processes=64))
    started = time.monotonic()
    with pytest.raises(LimitReached, match=r"^the run hit its process limit \(64\)$"):
        await run_sandboxed(plan, ["/bin/sh", "-c", "f() { f | f & }; f; sleep 60"], timeout_s=60)
    assert time.monotonic() - started < 20  # ended at the limit, not at the timeout
    assert own_groups(where) == []


async def test_memory_past_the_limit_ends_the_run_and_the_server_lives(tmp_path: Path) -> None:
    where = await root_mechanisms()
    plan = plan_in(tmp_path, Resources(memory_bytes=256 * MIB))
    code = "x = bytearray(1 << 30); x[::4096] = b'x' * len(x[::4096]); import time; time.sleep(60)"
    with pytest.raises(LimitReached, match=r"^the run hit its memory limit \(256 MiB\)$"):
        await run_sandboxed(plan, [PY, "-c", code], timeout_s=60)
    assert own_groups(where) == []
    # This process (the server) was never the one killed, and runs go on.
    done = await run_sandboxed(plan_in(tmp_path / "next", Resources()), ["/bin/true"], timeout_s=30)
    assert done.returncode == 0


async def test_tmpfs_counts_against_the_memory_limit(tmp_path: Path) -> None:
    await root_mechanisms()
    plan = plan_in(tmp_path, Resources(memory_bytes=128 * MIB))
    with pytest.raises(LimitReached, match="memory limit"):
        await run_sandboxed(plan, [PY, "-c", FILL, "/tmp/fill"], timeout_s=60)


async def test_disk_past_the_limit_stops_within_the_image(tmp_path: Path, origin: Path) -> None:
    where = await root_mechanisms()
    ws = workspaces.Workspaces(root=tmp_path / "ws", resources=Resources(disk_bytes=64 * MIB))
    wt = await prepare(ws, origin, "d1")
    area, image = wt.path.parent, tmp_path / "ws" / "images" / "d1.img"
    assert mounted_at(area)
    limits = ws.bounded(wt, Limits())
    assert limits.scratch == area / "scratch"
    assert limits.resources.disk_bytes == 64 * MIB
    home = limits.scratch / "home"
    home.mkdir()
    plan = SandboxPlan(worktree=wt.path, home=home, env={}, resources=limits.resources)
    with pytest.raises(LimitReached, match=r"^the run hit its disk limit \(64 MiB\)$") as hit:
        await run_sandboxed(plan, [PY, "-c", FILL, "many"], timeout_s=60)
    assert hit.value.limit == "disk"
    written = sum(f.stat().st_size for f in (wt.path / "many").iterdir())
    assert 32 * MIB < written <= 64 * MIB
    # The host holds the sparse image and nothing more: what the run wrote fits inside it.
    assert image.stat().st_blocks * 512 <= 64 * MIB
    await ws.remove("acme/app", "d1")
    assert not mounted_at(area)
    assert not area.exists()
    assert not image.exists()
    assert own_groups(where) == []


async def test_the_agent_home_counts_against_the_disk_limit(tmp_path: Path, origin: Path) -> None:
    await root_mechanisms()
    ws = workspaces.Workspaces(root=tmp_path / "ws", resources=Resources(disk_bytes=48 * MIB))
    wt = await prepare(ws, origin, "d2")
    spec = AgentSpec.model_validate(
        {
            "adapter": "command",
            "command": [PY, "-c", FILL, "/home/agent/cache"],
            "output": {"format": "text"},
            "sandbox": {"network": "host"},
        }
    )
    adapter = CommandAdapter(spec=spec, agent="filler", server_env={}, runner=SandboxRunner())
    limits = ws.bounded(wt, Limits(timeout_s=60))
    result = await adapter.run(AgentTask(prompt="x"), wt.path, limits, discard_events)
    assert result.status is RunStatus.FAILED
    assert result.error == "the run hit its disk limit (48 MiB)"
    assert limits.scratch is not None
    assert list(limits.scratch.iterdir()) == []  # the HOME went with the run
    await ws.remove("acme/app", "d2")
    assert not mounted_at(wt.path.parent)


async def test_a_crashed_runs_mount_and_image_are_replaced(tmp_path: Path, origin: Path) -> None:
    await root_mechanisms()
    resources = Resources(disk_bytes=32 * MIB)
    first = await prepare(
        workspaces.Workspaces(root=tmp_path / "ws", resources=resources), origin, "c"
    )
    (first.path / "junk").write_text("left over\n")
    # A new server (the old one died without removing anything) prepares the same run.
    ws = workspaces.Workspaces(root=tmp_path / "ws", resources=resources)
    again = await prepare(ws, origin, "c")
    points = Path("/proc/self/mountinfo").read_text().count(f" {again.path.parent} ")
    assert points == 1
    assert not (again.path / "junk").exists()
    await ws.remove("acme/app", "c")
    assert not mounted_at(again.path.parent)
    await ws.close()  # and the repository's pristine checkout, which runs shared, goes too
    assert list((tmp_path / "ws" / "images").rglob("*.img")) == []
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()


async def test_enforcement_reports_the_root_mechanisms() -> None:
    where = await root_mechanisms()
    found = await enforcement(Resources(processes=512, memory_bytes=4 * GIB))
    assert [(e.limit.split()[0], e.enforced) for e in found] == [
        ("processes", True),
        ("memory", True),
        ("disk", True),
    ]
    assert found[0].limit == "processes (512 per run)"
    assert f"cgroup v{where.version} pids.max" in found[0].how
    assert "loop image" in found[2].how
    # and worktrees are overlays over a shared checkout (tests/bot/test_pristine.py)
    assert "the worktree an overlay over the repository's shared checkout" in found[2].how


async def test_without_an_image_the_disk_is_measured_and_the_run_ended(
    tmp_path: Path, bwrap: None
) -> None:
    # A plain directory on the host's disk: what a server that cannot mount gets.
    plan = plan_in(tmp_path, Resources(disk_bytes=24 * MIB))
    with pytest.raises(LimitReached, match=r"^the run hit its disk limit \(24 MiB\)$"):
        await run_sandboxed(plan, [PY, "-c", FILL, "many", "0.01"], timeout_s=60)
    # Measured, not refused: the run is ended soon after it passes the limit.
    assert 24 * MIB < diskquota.usage([plan.worktree]) < 100 * MIB
