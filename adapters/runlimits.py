"""A run's processes, memory and disk bounded together, watched while it runs; what is enforced.

Processes and memory: a fresh cgroup per run (`adapters/cgroups.py`). Disk: the run's area is
its own size-limited filesystem (`adapters/diskquota.py`, made by `Workspaces`), or measured.
A run that hits a limit is ended at once and reported with `LimitReached`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from adapters import cgroups, diskquota, overlay
from adapters.base import Resources
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine, Sequence

    from adapters.process import Completed

log = logging.getLogger(__name__)
POLL_S = 0.25  # how often the group's counters and the disk are looked at

Limit = Literal["process", "memory", "disk"]


class LimitError(BatonError):
    """A run could not be bounded, or was ended at a bound; the message is the reason."""


class LimitReached(LimitError):
    """A run was ended at one of its resource limits."""

    def __init__(self, limit: Limit, amount: str) -> None:
        self.limit: Limit = limit
        super().__init__(f"the run hit its {limit} limit ({amount})")


def size_text(n: int) -> str:
    """1024-based, as the settings are written: `4 GiB`, `512 MiB`, `1.5 GiB`."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


class Bound:
    """One run inside its bounds: wraps its command and ends it when a bound is hit."""

    def __init__(
        self, resources: Resources, group: cgroups.RunGroup | None, disk: diskquota.DiskWatch
    ) -> None:
        self._resources = resources
        self._group = group
        self._disk = disk

    def wrap(self, argv: Sequence[str]) -> list[str]:
        return self._group.wrap(argv) if self._group is not None else list(argv)

    async def reached(self, *, final: bool = False) -> LimitReached | None:
        res, group = self._resources, self._group
        if group is not None and group.hit_processes():
            return LimitReached("process", str(res.processes))
        if group is not None and group.hit_memory():
            return LimitReached("memory", size_text(res.memory_bytes))
        # A walk of a big tree takes a while: never on the event loop that serves webhooks.
        if await asyncio.to_thread(self._disk.over, final=final):
            return LimitReached("disk", size_text(res.disk_bytes))
        return None

    async def supervise(self, work: Coroutine[Any, Any, Completed]) -> Completed:
        """Await `work` (the run), ending it if a bound is hit; raises LimitReached then."""
        task = asyncio.create_task(work)
        hit = None
        try:
            while hit is None:
                done, _ = await asyncio.wait({task}, timeout=POLL_S)
                if done:
                    break
                hit = await self.reached()
            if hit is not None:
                # Killing the group first ends a fork bomb at once, not after a SIGTERM grace.
                if self._group is not None:
                    self._group.kill()
                task.cancel()
        finally:
            if not task.done():
                task.cancel()
            # The run's processes are gone before its group is removed.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        if hit is None and not task.cancelled():
            result = task.result()
            hit = await self.reached(final=True)
            if hit is None:
                return result
        raise hit or LimitError("the run was ended")


@contextlib.asynccontextmanager
async def bounded(resources: Resources, *, paths: tuple[Path, ...]) -> AsyncIterator[Bound]:
    """A fresh group for one run (where cgroups are usable), removed with all it holds after."""
    where = cgroups.hierarchy()
    group = None
    if isinstance(where, cgroups.Hierarchy):
        try:
            group = cgroups.RunGroup.create(
                where, processes=resources.processes, memory_bytes=resources.memory_bytes
            )
        except cgroups.CgroupError as exc:
            raise LimitError(f"the run's process and memory limits cannot be set: {exc}") from exc
    try:
        yield Bound(resources, group, diskquota.DiskWatch(paths, resources.disk_bytes))
    finally:
        if group is not None:
            try:
                await group.close()
            except cgroups.CgroupError:
                # Left for the next run's sweep; the run's own result still stands.
                log.exception("the run's group could not be removed")


@dataclass(frozen=True, slots=True)
class Enforced:
    """One limit and how this machine enforces it (`enforced` False: the reason it does not)."""

    limit: str
    how: str
    enforced: bool


def _cgroup_limits(res: Resources, *, sandboxed: bool) -> list[Enforced]:
    processes = f"processes ({res.processes} per run)"
    memory = f"memory ({size_text(res.memory_bytes)} per run, tmpfs included)"
    if not sandboxed:
        why = "not enforced: BATON_SANDBOX=none runs agents without the sandbox or its cgroup"
        return [Enforced(processes, why, enforced=False), Enforced(memory, why, enforced=False)]
    where = cgroups.hierarchy()
    if isinstance(where, str):
        nproc = f"not enforced per run ({where}); RLIMIT_NPROC counts per user, not for root"
        data = f"not enforced per run ({where}); RLIMIT_DATA caps each process"
        return [Enforced(processes, nproc, enforced=False), Enforced(memory, data, enforced=False)]
    v = where.version
    knob = "memory.max" if v == 2 else "memory.limit_in_bytes (+ memsw)"
    pids = f"cgroup v{v} pids.max, a group per run under {where.pids}"
    mem = f"cgroup v{v} {knob}, a group per run under {where.memory}"
    return [Enforced(processes, pids, enforced=True), Enforced(memory, mem, enforced=True)]


async def _disk_limit(res: Resources) -> Enforced:
    disk = f"disk ({size_text(res.disk_bytes)} per run: worktree and HOME)"
    with tempfile.TemporaryDirectory(prefix="baton-quota-probe-") as tmp:
        area, image = Path(tmp) / "area", Path(tmp) / "probe.img"
        why_not = await diskquota.make_area(area, image=image, size=diskquota.MIN_BYTES)
        no_overlay = None
        if why_not is None:
            no_overlay = await overlay.probe(lower=Path(tmp) / "lower", within=area)
        await diskquota.remove_area(area, image=image)
    if why_not is None:
        how = "a sparse ext4 loop image per run, mounted as its area; " + (
            "the worktree an overlay over the repository's shared checkout, so only what the "
            "run writes counts"
            if no_overlay is None
            else f"the worktree a checkout of every file (no overlay: {no_overlay})"
        )
        return Enforced(disk, how, enforced=True)
    how = (
        f"measured every few seconds, the run ended when over; single files capped by "
        f"RLIMIT_FSIZE (no image: {why_not})"
    )
    return Enforced(disk, how, enforced=True)


async def enforcement(
    resources: Resources | None = None, *, sandboxed: bool = True
) -> list[Enforced]:
    """What bounds a run on this machine, for the README and `baton doctor` (probes once)."""
    res = resources or Resources()
    return [*_cgroup_limits(res, sandboxed=sandboxed), await _disk_limit(res)]
