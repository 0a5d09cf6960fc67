"""What an agent leaves behind is hostile input: read it on the host without obeying any of it.

The agent can write anything into its worktree and its home. Baton's own `git` reads that
worktree after the run, so git must find no configuration there that it would act on (a nested
repository's `core.fsmonitor` is a command git runs), and Baton's own reads must never follow a
link the agent planted (a home file linked to the server's private key).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

# Settings every git that Baton runs gets with command-line precedence, which beats anything a
# repository's own config says (and is passed down to any git that git itself starts).
SAFE_GIT_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.untrackedCache", "false"),
    ("core.attributesFile", "/dev/null"),
    ("core.excludesFile", "/dev/null"),
    ("core.symlinks", "true"),  # a link is committed as a link, never followed
    ("submodule.recurse", "false"),
    ("diff.ignoreSubmodules", "all"),
    ("status.submoduleSummary", "false"),
    ("credential.helper", ""),
    ("protocol.ext.allow", "never"),
    ("gc.auto", "0"),
)
# Flags for every git command that shows content: no program named by config or attributes.
NO_DRIVERS = ("--no-ext-diff", "--no-textconv")


def git_config_env(extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """`GIT_CONFIG_*` variables carrying SAFE_GIT_CONFIG (plus `extra`), and no user config."""
    pairs = (*SAFE_GIT_CONFIG, *extra)
    env = {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": str(len(pairs)),
    }
    for i, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _nested_git(root: Path) -> Iterator[Path]:
    # os.walk never follows links here: a link named `.git` is itself the thing to remove.
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        for name in (*dirs, *files):
            if name == ".git" and here != root:
                yield here / name
        dirs[:] = [d for d in dirs if d != ".git"]  # the root's own is Baton's; others go whole


def remove_nested_git(root: Path) -> list[str]:
    """Delete every `.git` (directory, file or link) below the worktree's root; their paths.

    A nested repository is how an agent would make the host's git obey its config, and a `.git`
    file pointing elsewhere is how it would make git read another repository: neither is
    part of a change, so both go before git looks at the tree.
    """
    removed: list[str] = []
    for path in list(_nested_git(root)):
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path.relative_to(root).as_posix())
    return sorted(removed)


def within(root: Path, path: Path) -> bool:
    """Whether `path`, with every link resolved, is still inside `root`."""
    try:
        return path.resolve(strict=True).is_relative_to(root.resolve(strict=True))
    except OSError:
        return False


def read_inside(root: Path, path: Path, *, offset: int = 0, limit: int | None = None) -> bytes:
    """The bytes of a regular file the agent could have written, never through a link.

    Raises OSError when the file is a link, is not a regular file, or resolves outside `root`.
    """
    if not within(root, path):
        raise OSError(f"{path} is not inside {root}")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        file.seek(offset)
        return file.read() if limit is None else file.read(limit)


def write_inside(root: Path, path: Path, text: str) -> None:
    """Write a file Baton keeps in the agent's home (a resumed one holds what an earlier run of
    the agent left there): a planted link is replaced, never written through."""
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not within(root, parent):
        raise OSError(f"{parent} is not inside {root}")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
