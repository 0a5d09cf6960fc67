"""Finding this process's cgroups (v1 and v2) and making run groups, on fake cgroup trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from adapters import cgroups
from adapters.process import minimal_env, run

pytestmark = pytest.mark.anyio

# This machine's shape: v1 controllers, plus a unified mount whose controllers all went to v1.
HYBRID_CGROUP = "8:pids:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n"


def mountinfo(tmp_path: Path, *rows: tuple[str, str, str, str]) -> str:
    """Lines of /proc/self/mountinfo for (mount dir, root, fs type, super options)."""
    return "".join(
        f"{n} 23 0:{n} {root} {tmp_path / name} rw,relatime - {fstype} cgroup {options}\n"
        for n, (name, root, fstype, options) in enumerate(rows, start=30)
    )


def unified(tmp_path: Path, path: str, controllers: str) -> Path:
    group = tmp_path / "unified" / path.lstrip("/")
    group.mkdir(parents=True, exist_ok=True)
    (group / "cgroup.controllers").write_text(controllers + "\n")
    (group / "cgroup.subtree_control").write_text("")
    (group / "cgroup.procs").write_text("")
    return group


def test_a_hybrid_machine_uses_its_v1_hierarchies(tmp_path: Path) -> None:
    unified(tmp_path, "/", "hugetlb")
    info = mountinfo(
        tmp_path,
        ("unified", "/", "cgroup2", "rw"),
        ("memory", "/", "cgroup", "rw,memory"),
        ("pids", "/", "cgroup", "rw,pids"),
    )
    found = cgroups.locate(info, HYBRID_CGROUP)
    assert found == cgroups.Hierarchy(
        version=1, pids=tmp_path / "pids", memory=tmp_path / "memory" / "process_api" / "abc"
    )


def test_v2_delegates_both_controllers_to_run_groups(tmp_path: Path) -> None:
    unified(tmp_path, "/", "cpu memory pids")
    own = unified(tmp_path, "/svc", "memory pids")
    info = mountinfo(tmp_path, ("unified", "/", "cgroup2", "rw"))
    found = cgroups.locate(info, "0::/svc\n")
    assert found == cgroups.Hierarchy(version=2, pids=own, memory=own)
    assert found.parents == (own,)
    assert (own / "cgroup.subtree_control").read_text() == "+pids +memory"


def test_a_server_already_in_its_leaf_makes_groups_beside_it(tmp_path: Path) -> None:
    own = unified(tmp_path, "/svc", "memory pids")
    (own / "cgroup.subtree_control").write_text("memory pids\n")
    unified(tmp_path, "/svc/baton-server", "memory pids")
    info = mountinfo(tmp_path, ("unified", "/", "cgroup2", "rw"))
    assert cgroups.locate(info, "0::/svc/baton-server\n").pids == own


def test_no_usable_hierarchy_says_why(tmp_path: Path) -> None:
    unified(tmp_path, "/svc", "cpu io")
    info = mountinfo(tmp_path, ("unified", "/", "cgroup2", "rw"), ("pids", "/", "cgroup", "pids"))
    with pytest.raises(cgroups.CgroupError) as err:
        cgroups.locate(info, "3:pids:/\n0::/svc\n")
    assert str(err.value) == (
        f"cgroup v2 at {tmp_path / 'unified'}: {tmp_path / 'unified' / 'svc'} lacks the memory "
        "and pids controller(s); no cgroup v1 hierarchy for memory"
    )


def test_a_container_mount_maps_its_root(tmp_path: Path) -> None:
    info = mountinfo(
        tmp_path,
        ("pids", "/docker/c1", "cgroup", "rw,pids"),
        ("memory", "/docker/c1", "cgroup", "rw,memory"),
    )
    found = cgroups.locate(info, "2:pids:/docker/c1/job\n1:memory:/docker/c1\n")
    assert (found.pids, found.memory) == (tmp_path / "pids" / "job", tmp_path / "memory")
    with pytest.raises(cgroups.CgroupError, match="no cgroup v1 hierarchy for pids"):
        cgroups.locate(info, "2:pids:/elsewhere\n1:memory:/docker/c1\n")


def test_a_v1_run_group_is_capped_and_reports_what_it_hit(tmp_path: Path) -> None:
    where = cgroups.Hierarchy(version=1, pids=tmp_path / "pids", memory=tmp_path / "memory")
    where.pids.mkdir()
    where.memory.mkdir()
    group = cgroups.RunGroup.create(where, processes=64, memory_bytes=256 * 1024**2)
    pids, memory = group.dirs
    assert pids.parent == where.pids
    assert (pids / "pids.max").read_text() == "64"
    assert (memory / "memory.limit_in_bytes").read_text() == str(256 * 1024**2)
    assert not group.hit_processes()
    assert not group.hit_memory()
    (pids / "pids.events").write_text("max 3\n")
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert group.hit_processes()
    assert group.hit_memory()


def test_a_v2_run_group_is_capped_and_counts_kills_not_reclaim(tmp_path: Path) -> None:
    where = cgroups.Hierarchy(version=2, pids=tmp_path, memory=tmp_path)
    group = cgroups.RunGroup.create(where, processes=10, memory_bytes=1 << 30)
    (path,) = group.dirs
    assert (path / "pids.max").read_text() == "10"
    assert (path / "memory.max").read_text() == str(1 << 30)
    (path / "memory.events").write_text("low 0\nhigh 0\nmax 7\noom 1\noom_kill 0\n")
    assert not group.hit_memory()  # reclaim at the limit is not a kill


def test_groups_of_dead_servers_are_swept(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    (tmp_path / f"baton-run-{gone.pid}-1").mkdir()
    (tmp_path / f"baton-run-{os.getpid()}-999").mkdir()
    (tmp_path / "someone-else").mkdir()
    where = cgroups.Hierarchy(version=2, pids=tmp_path, memory=tmp_path)
    cgroups.RunGroup.create(where, processes=10, memory_bytes=1 << 30)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert f"baton-run-{gone.pid}-1" not in left
    assert f"baton-run-{os.getpid()}-999" in left
    assert "someone-else" in left


async def test_the_wrapper_joins_every_group_before_the_command(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    group = cgroups.RunGroup(version=1, dirs=(first, second))
    done = await run(
        group.wrap(["/bin/sh", "-c", "echo $$", "it's me"]), cwd=tmp_path, env=minimal_env()
    )
    pid = done.out.strip()
    assert (first / "cgroup.procs").read_text().strip() == pid
    assert (second / "cgroup.procs").read_text().strip() == pid


async def test_the_wrapper_never_runs_the_command_outside_its_group(tmp_path: Path) -> None:
    group = cgroups.RunGroup(version=2, dirs=(tmp_path / "gone",))
    command = ["/bin/sh", "-c", f"touch {tmp_path / 'ran'}"]
    done = await run(group.wrap(command), cwd=tmp_path, env=minimal_env(), check=False)
    assert done.returncode == 125
    assert not (tmp_path / "ran").exists()


def test_only_a_group_that_is_batons_is_rearranged(tmp_path: Path) -> None:
    session, service = tmp_path / "session-3.scope", tmp_path / "baton.service"
    session.mkdir()
    service.mkdir()
    os.setxattr(service, "user.delegate", b"1")  # what systemd's Delegate=yes leaves
    assert not cgroups.delegated(session, namespace_root=False)
    assert cgroups.delegated(service, namespace_root=False)
    assert cgroups.delegated(session, namespace_root=True)  # a container's own root
