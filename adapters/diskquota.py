"""A run's disk area: a size-limited ext4 image mounted at its directory, or a measured plain one.

The image is sparse (it takes host disk only as the run writes) and holds everything the run may
write: the worktree and the agent's HOME. Where Baton cannot mount (not root, no loop devices,
no mkfs.ext4) the area is a plain directory and `over_limit` measures it instead.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.process import ProcessError, minimal_env, run
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger(__name__)

LOOP_CONTROL = Path("/dev/loop-control")
# No blocks reserved for root (the sandbox user is root on a root server), lazy inode tables and
# journal so making a 4 GiB image writes a few MiB, and no discard pass over the sparse file.
MKFS = (
    "mkfs.ext4",
    "-q",
    "-F",
    "-m",
    "0",
    "-E",
    "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
)
MOUNT_OPTIONS = "loop,nosuid,nodev"
MIN_BYTES = 16 * 1024 * 1024  # ext4 needs a little room for itself


class DiskQuotaError(BatonError):
    """The run's disk area could not be made or removed; the message says what failed."""


def mount_unavailable() -> str | None:
    """Why this process cannot mount a size-limited image (None when it can try)."""
    if os.geteuid() != 0:
        return "the server is not root, so it cannot mount a loop image"
    if not LOOP_CONTROL.exists():
        return f"{LOOP_CONTROL} is missing (no loop devices)"
    if shutil.which("mkfs.ext4") is None:
        return "mkfs.ext4 (e2fsprogs) is not installed"
    return None


def is_mounted(area: Path) -> bool:
    return area.is_dir() and os.path.ismount(area)


async def make_area(area: Path, *, image: Path, size: int) -> str | None:
    """A fresh area at `area`, holding at most `size` bytes; stale leftovers go first.

    Returns None when the area is its own filesystem, else why it is a plain directory (its
    size is then only measured, see `over_limit`).
    """
    await remove_area(area, image=image)
    why = mount_unavailable()
    if why is None:
        why = await _mount_image(area, image=image, size=max(size, MIN_BYTES))
    if why is not None:
        _warn_once(why)
        area.mkdir(parents=True, exist_ok=True)
    return why


@functools.cache
def _warn_once(why: str) -> None:
    log.warning("run areas are plain directories, their size measured while runs go: %s", why)


async def _mount_image(area: Path, *, image: Path, size: int) -> str | None:
    image.parent.mkdir(parents=True, exist_ok=True)
    area.mkdir(parents=True, exist_ok=True)
    with image.open("wb") as sparse:
        sparse.truncate(size)
    cwd, env = image.parent, minimal_env()
    try:
        await run([*MKFS, str(image)], cwd=cwd, env=env, timeout_s=120)
        await run(["mount", "-o", MOUNT_OPTIONS, str(image), str(area)], cwd=cwd, env=env)
    except ProcessError as exc:
        image.unlink(missing_ok=True)
        return f"mounting a loop image failed: {exc}"
    return None


async def remove_area(area: Path, *, image: Path) -> None:
    """Unmount (stacked mounts of crashed runs included), delete the directory and the image."""
    cwd, env = area.parent, minimal_env()
    for _ in range(8):
        if not is_mounted(area):
            break
        try:
            # Recursive: a run's overlay worktree is mounted inside its area.
            await run(["umount", "--recursive", str(area)], cwd=cwd, env=env, timeout_s=60)
        except ProcessError as exc:
            # Something still holds a file open: detach now, the kernel frees it when closed.
            log.warning("unmounting %s failed (%s); detaching it lazily", area, exc)
            await run(["umount", "--lazy", str(area)], cwd=cwd, env=env, timeout_s=60, check=False)
    if is_mounted(area):
        raise DiskQuotaError(f"{area} is still mounted after umount; unmount it by hand")
    shutil.rmtree(area, ignore_errors=True)
    image.unlink(missing_ok=True)


def usage(paths: Iterable[Path]) -> int:
    """Bytes allocated under `paths` (hard links counted once, symlinks not followed)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [str(p) for p in paths]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # removed while we looked
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


def own_filesystem_full(path: Path, limit: int) -> bool | None:
    """Whether the filesystem under `path` is full, when it is no bigger than `limit` (the run's
    own image, or a disk smaller than the limit); None when it is bigger and must be measured."""
    st = os.statvfs(path)
    size = st.f_blocks * st.f_frsize
    if size > limit:
        return None
    free = st.f_bavail * st.f_frsize
    # Full is rarely zero bytes free: the write that did not fit failed whole (ext4 reserves a
    # write's blocks up front), so the last 2% (at least 4 MiB) counts as the limit.
    return free < max(4 * 1024 * 1024, size // 50) or st.f_favail == 0


class DiskWatch:
    """Whether a run's directories went over their limit, measured no more often than they are
    cheap to measure (a walk of a big tree is spread out; a statvfs is not)."""

    def __init__(self, paths: tuple[Path, ...], limit: int, *, min_interval_s: float = 0.5) -> None:
        self._paths = paths
        self._limit = limit
        self._min_interval_s = min_interval_s
        self._next = 0.0

    def over(self, *, final: bool = False) -> bool:
        measured = []
        for path in self._paths:
            full = own_filesystem_full(path, self._limit) if path.is_dir() else False
            if full:
                return True
            if full is None:
                measured.append(path)
        now = time.monotonic()
        if not measured or (not final and now < self._next):
            return False
        used = usage(measured)
        # At most ~5% of one core on walking, however big the tree.
        self._next = time.monotonic() + max(self._min_interval_s, 20 * (time.monotonic() - now))
        return used > self._limit
