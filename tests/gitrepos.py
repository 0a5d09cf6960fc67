"""A bare 'remote' and a clone to push to it from, with real git, for the tests of worktrees."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def sh(*args: str, cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def seeded_origin(tmp_path: Path, files: Mapping[str, str]) -> Path:
    """`tmp_path/origin.git` with one commit of `files` on main, pushed from `tmp_path/seed` (a
    clone to push more from, with `push_commit`); the clone's path."""
    bare = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    seed = tmp_path / "seed"
    sh("git", "clone", "-q", str(bare), str(seed), cwd=tmp_path)
    for name, text in files.items():
        (seed / name).write_text(text)
    push_commit(seed, "init")
    return seed


def push_commit(seed: Path, message: str) -> str:
    """Commit everything in `seed` and push it to main; the commit."""
    sh("git", "add", "-A", ".", cwd=seed)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", message, cwd=seed)
    sh("git", "push", "-q", "origin", "HEAD:main", cwd=seed)
    return sh("git", "rev-parse", "HEAD", cwd=seed)
