"""A run's area `<root>/runs/<run_id>`: its worktree and its scratch (the agent's HOME).

With `resources` the area is a filesystem of its own (a sparse image under `<root>/images`), so
both count against the run's disk limit. Each area records the process that made it
(`<run_id>.owner`): a process that dies without removing its areas (`kill -9`, power loss)
leaves them to the next one that starts on the same root, which sweeps them away.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING

from adapters import diskquota
from adapters.process import pid_alive

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.base import Resources

log = logging.getLogger(__name__)


class RunAreas:
    def __init__(self, *, root: Path, resources: Resources | None = None) -> None:
        self._root = root
        self.resources = resources  # None: plain directories
        self._made: set[str] = set()  # areas this process made and has not removed

    def path(self, run_id: str) -> Path:
        return self._root / "runs" / run_id

    def _image(self, run_id: str) -> Path:
        return self._root / "images" / f"{run_id}.img"

    def _owner(self, run_id: str) -> Path:
        return self._root / "runs" / f"{run_id}.owner"

    async def make(self, run_id: str) -> Path:
        """A fresh, empty area (a stale one of the same run, mounted or not, goes first)."""
        area, image = self.path(run_id), self._image(run_id)
        area.parent.mkdir(parents=True, exist_ok=True)
        self._owner(run_id).write_text(f"{os.getpid()}\n")
        self._made.add(run_id)
        if self.resources is None:
            await diskquota.remove_area(area, image=image)
            area.mkdir(parents=True)
        else:
            await diskquota.make_area(area, image=image, size=self.resources.disk_bytes)
        (area / "scratch").mkdir()
        return area

    async def remove(self, run_id: str) -> None:
        """Unmounted, image and directory deleted (a crashed run's too)."""
        await diskquota.remove_area(self.path(run_id), image=self._image(run_id))
        self._owner(run_id).unlink(missing_ok=True)
        self._made.discard(run_id)

    async def close(self) -> None:
        """On shutdown, remove the areas of runs that did not end here (their job resumes later
        and runs its agent again in a new area): no mount outlives the process."""
        for run_id in sorted(self._made):
            await self.remove(run_id)

    async def sweep(self) -> list[str]:
        """Remove the areas whose owning process is gone; the run ids swept."""
        swept: list[str] = []
        runs = self._root / "runs"
        for owner in sorted(runs.glob("*.owner")) if runs.is_dir() else []:
            with contextlib.suppress(OSError, ValueError):
                pid = int(owner.read_text().strip())
                if pid == os.getpid() or pid_alive(pid):
                    continue
            run_id = owner.name.removesuffix(".owner")
            await self.remove(run_id)
            swept.append(run_id)
        if swept:
            log.info("removed %d run areas left by a process that is gone", len(swept))
        return swept
