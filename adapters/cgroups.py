"""A fresh cgroup per sandboxed run: its processes and memory are capped together, even as root.

cgroup v2 needs a writable unified hierarchy with the `pids` and `memory` controllers; v1 needs
writable `pids` and `memory` hierarchies. Groups are made under this process's own groups (read
from /proc/self/cgroup), named `baton-run-<server pid>-<n>` so a crashed server's are found.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import itertools
import logging
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from adapters.process import pid_alive
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)
CONTROLLERS = ("pids", "memory")
LEAF = "baton-server"  # where a v2 server moves itself so its group may hold run groups
_NAME = re.compile(r"^baton-run-(\d+)-\d+$")
# Put before prlimit/bwrap: the shell joins the group(s) named before `--`, then becomes the
# command, so nothing of the run ever starts outside its group.
_JOIN = (
    'for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; shift; exec "$@"'
)
_counter = itertools.count(1)


class CgroupError(BatonError):
    """A run's group could not be made; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """Where run groups go: one parent per controller (the same directory on v2)."""

    version: Literal[1, 2]
    pids: Path
    memory: Path

    @property
    def parents(self) -> tuple[Path, ...]:
        return (self.pids,) if self.pids == self.memory else (self.pids, self.memory)


def _mounts(mountinfo: str) -> list[tuple[Path, str, str, set[str]]]:
    """(mount point, root within the hierarchy, fs type, super options) of each cgroup mount."""
    found = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3 or not tail[0].startswith("cgroup"):
            continue
        point = fields[4].replace("\\040", " ")
        found.append((Path(point), fields[3], tail[0], set(tail[2].split(","))))
    return found


def _own(proc_cgroup: str) -> dict[str, str]:
    """This process's group per controller; the v2 group is under the key ""."""
    own = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for name in parts[1].split(",") if parts[1] else [""]:
                own[name] = parts[2]
    return own


def _under(point: Path, root: str, path: str) -> Path | None:
    """The directory of group `path` in a hierarchy mounted at `point` from `root`."""
    if root == "/":
        return point / path.lstrip("/")
    if path != root and not path.startswith(root + "/"):
        return None
    return point / path[len(root) :].lstrip("/")


def delegated(group: Path, *, namespace_root: bool) -> bool:
    """Whether `group` is Baton's to rearrange: its container's root, or delegated by systemd
    (`Delegate=yes` marks the group with a `delegate` extended attribute)."""
    if namespace_root:
        return True
    for name in ("trusted.delegate", "user.delegate"):
        with contextlib.suppress(OSError):
            if os.getxattr(group, name) == b"1":
                return True
    return False


def _enable_v2(own: Path, *, namespace_root: bool) -> Path:
    """The v2 group run groups go under, with both controllers delegated to its children."""
    if own.name == LEAF:
        own = own.parent
    missing = set(CONTROLLERS) - set((own / "cgroup.controllers").read_text().split())
    if missing:
        raise CgroupError(f"{own} lacks the {' and '.join(sorted(missing))} controller(s)")
    control = own / "cgroup.subtree_control"
    if set(CONTROLLERS) <= set(control.read_text().split()):
        return own
    try:
        control.write_text(" ".join(f"+{c}" for c in CONTROLLERS))
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
        # "No internal processes": a group holding processes cannot delegate controllers, so
        # the server (and whatever shares its group) moves into a leaf first; only in a group
        # that is Baton's, never in someone's login session.
        if not delegated(own, namespace_root=namespace_root):
            raise CgroupError(
                f"{own} holds processes and is not delegated to Baton (run it as a systemd "
                "service with Delegate=yes, or in a container of its own)"
            ) from exc
        leaf = own / LEAF
        leaf.mkdir(exist_ok=True)
        for pid in (own / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, OSError):
                (leaf / "cgroup.procs").write_text(pid)
        control.write_text(" ".join(f"+{c}" for c in CONTROLLERS))
    return own


def locate(mountinfo: str, proc_cgroup: str) -> Hierarchy:
    """Where this process may make run groups (v2 preferred); raises CgroupError saying why not."""
    mounts, own = _mounts(mountinfo), _own(proc_cgroup)
    why = []
    v2 = [(p, r) for p, r, fstype, _ in mounts if fstype == "cgroup2"]
    base = _under(*v2[0], own[""]) if v2 and "" in own else None
    if base is not None:
        try:
            group = _enable_v2(base, namespace_root=own[""] == "/")
            return Hierarchy(version=2, pids=group, memory=group)
        except (CgroupError, OSError) as exc:
            why.append(f"cgroup v2 at {v2[0][0]}: {exc}")
    v1: dict[str, Path] = {}
    for point, root, fstype, options in mounts:
        for name in CONTROLLERS:
            if fstype == "cgroup" and name in options and name in own:
                found = _under(point, root, own[name])
                if found is not None:
                    v1.setdefault(name, found)
    if len(v1) == len(CONTROLLERS):
        return Hierarchy(version=1, pids=v1["pids"], memory=v1["memory"])
    lacking = [name for name in CONTROLLERS if name not in v1]
    why.append(f"no cgroup v1 hierarchy for {' and '.join(lacking)}")
    raise CgroupError("; ".join(why))


@functools.cache
def hierarchy() -> Hierarchy | str:
    """This machine's hierarchy, probed once by making and removing a group; else why not."""
    try:
        found = locate(
            Path("/proc/self/mountinfo").read_text(), Path("/proc/self/cgroup").read_text()
        )
        probe = RunGroup.create(found, processes=8, memory_bytes=64 * 1024 * 1024)
        probe.remove_now()
    except (CgroupError, OSError) as exc:
        log.warning(
            "agent runs get no cgroup, so processes and memory are bounded per process only: %s",
            exc,
        )
        return str(exc)
    return found


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc


def _field(path: Path, key: str) -> int | None:
    """`key N` from a flat keyed cgroup file (pids.events, memory.events, oom_control)."""
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    return None


@dataclass(frozen=True, slots=True)
class RunGroup:
    """One run's group: a directory per hierarchy (one on v2, the pids and memory ones on v1)."""

    version: Literal[1, 2]
    dirs: tuple[Path, ...]

    @classmethod
    def create(cls, where: Hierarchy, *, processes: int, memory_bytes: int) -> RunGroup:
        for parent in where.parents:
            _sweep(parent)
        name = f"baton-run-{os.getpid()}-{next(_counter)}"
        group = cls(version=where.version, dirs=tuple(p / name for p in where.parents))
        try:
            for path in group.dirs:
                path.mkdir()
            pids, memory = group.dirs[0], group.dirs[-1]
            _write(pids / "pids.max", str(processes))
            if where.version == 2:
                _write(memory / "memory.max", str(memory_bytes))
                for knob, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
                    if (memory / knob).exists():
                        _write(memory / knob, value)
            else:
                _write(memory / "memory.limit_in_bytes", str(memory_bytes))
                if (memory / "memory.memsw.limit_in_bytes").exists():
                    _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
        except (CgroupError, OSError) as exc:
            group.remove_now()
            raise CgroupError(f"cannot make the run's group {group.dirs[0]}: {exc}") from exc
        return group

    def wrap(self, argv: Sequence[str]) -> list[str]:
        procs = [str(path / "cgroup.procs") for path in self.dirs]
        return ["/bin/sh", "-c", _JOIN, "baton-cgroup", *procs, "--", *argv]

    def hit_processes(self) -> bool:
        return bool(_field(self.dirs[0] / "pids.events", "max"))

    def hit_memory(self) -> bool:
        memory = self.dirs[-1]
        if self.version == 2:
            return bool(_field(memory / "memory.events", "oom_kill"))
        control = memory / "memory.oom_control"
        killed = _field(control, "oom_kill")  # kernels since 4.13; older ones say under_oom
        return bool(killed if killed is not None else _field(control, "under_oom"))

    def _pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.dirs:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return sorted(found)

    def kill(self) -> list[int]:
        """SIGKILL everything in the group; what was still there."""
        kill_file = self.dirs[0] / "cgroup.kill"
        if self.version == 2 and kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        left = self._pids()
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return left

    def remove_now(self) -> bool:
        gone = True
        for path in self.dirs:
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                gone = False
        return gone

    async def close(self, *, timeout_s: float = 10.0) -> None:
        """Kill what is left and remove the group (a dying process keeps it busy briefly)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            left = self.kill()
            if not left and self.remove_now():
                return
            if loop.time() > deadline:
                raise CgroupError(f"{self.dirs[0]} still holds processes {left[:10]}")
            await asyncio.sleep(0.02)


def _sweep(parent: Path) -> None:
    """Groups of servers that died mid-run: empty them and take them away."""
    with contextlib.suppress(OSError):
        for path in parent.iterdir():
            match = _NAME.match(path.name)
            if match is None or pid_alive(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGKILL)
            with contextlib.suppress(OSError):
                path.rmdir()
