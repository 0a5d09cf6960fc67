"""A run's worktree as an overlay: a read-only checkout Baton made (the lower layer, shared by
the runs of a repository) under the run's own writes (the upper layer, in the run's area, so they
count against its disk limit). Mounting is instant where a checkout of every file is not.

Only where the run's area is an image of its own (a root server, see `diskquota`): the upper
layer must be on it. Elsewhere the worktree is checked out as before.
"""

from __future__ import annotations

import os
from pathlib import Path

from adapters.process import ProcessError, minimal_env, run
from config.errors import BatonError

FILESYSTEMS = Path("/proc/filesystems")
MOUNTINFO = Path("/proc/self/mountinfo")
# What mount's option string cannot carry in a path (it separates options and lower layers).
_UNSAFE = frozenset(",:\\ \n\t")


class OverlayError(BatonError):
    """The overlay could not be mounted or unmounted; the message says what failed."""


def unavailable(*paths: Path) -> str | None:
    """Why an overlay cannot be mounted over `paths` here (None when it can be tried)."""
    if os.geteuid() != 0:
        return "the server is not root"
    try:
        known = FILESYSTEMS.read_text()
    except OSError:
        return f"{FILESYSTEMS} is unreadable"
    if "overlay" not in known.split():
        return "the kernel has no overlay filesystem"
    if any(_UNSAFE & set(str(p)) for p in paths):
        return "a path holds a character mount options cannot carry"
    return None


async def mount(*, lower: Path, upper: Path, work: Path, at: Path) -> None:
    """`at` shows `lower` with every write going to `upper` (`work`: overlay's own scratch, on
    the same filesystem as `upper`)."""
    upper.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    at.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={lower},upperdir={upper},workdir={work},nosuid,nodev"
    try:
        await run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(at)],
            cwd=at.parent,
            env=minimal_env(),
            timeout_s=60,
        )
    except ProcessError as exc:
        raise OverlayError(f"mounting the worktree's overlay failed: {exc}") from exc


async def probe(*, lower: Path, within: Path) -> str | None:
    """Why an overlay cannot be mounted with its upper layer in `within` (None: one was mounted
    and unmounted)."""
    why = unavailable(lower, within)
    if why is not None:
        return why
    lower.mkdir(parents=True, exist_ok=True)
    at = within / "probe"
    try:
        await mount(lower=lower, upper=within / "upper", work=within / "work", at=at)
    except OverlayError as exc:
        return str(exc)
    await unmount(at)
    return None


async def unmount(at: Path) -> bool:
    """Unmounted if it is mounted (detached lazily when something still holds a file open);
    whether it was."""
    if not os.path.ismount(at):
        return False
    env = minimal_env()
    try:
        await run(["umount", str(at)], cwd=at.parent, env=env, timeout_s=60)
    except ProcessError:
        await run(["umount", "--lazy", str(at)], cwd=at.parent, env=env, timeout_s=60, check=False)
    if os.path.ismount(at):
        raise OverlayError(f"{at} is still mounted after umount; unmount it by hand")
    return True


def lowers_in_use() -> set[Path]:
    """The lower layers of every overlay mounted on this machine (a layer in use is never
    changed or removed: overlayfs forbids it)."""
    return {lower for lowers in mounted().values() for lower in lowers}


def mounted() -> dict[Path, list[Path]]:
    """Every overlay mounted on this machine: where, and its lower layers."""
    try:
        lines = MOUNTINFO.read_text().splitlines()
    except OSError:
        return {}
    found: dict[Path, list[Path]] = {}
    for line in lines:
        before, _, after = line.partition(" - ")
        fields = after.split(" ")
        if len(fields) < 3 or fields[0] != "overlay":
            continue
        at = Path(_unescape(before.split(" ")[4]))
        for option in fields[2].split(","):
            if option.startswith("lowerdir="):
                layers = option.removeprefix("lowerdir=").split(":")
                found[at] = [Path(_unescape(layer)) for layer in layers]
    return found


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field
