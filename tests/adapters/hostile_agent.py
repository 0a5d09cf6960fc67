"""A hostile `command` agent for tests: it tries to steal secrets and escape its worktree.

Run it as `python3 hostile_agent.py [--read PATH]... [--write PATH]...` (or `python3 -c <source>`
with the same arguments, so it needs no file inside the sandbox); stdlib only, no repo imports.

It reads its own environment, every /proc/<pid>/environ and cmdline it can see, each `--read`
path (a directory: every file in it), the mounts it can see and its git dir's config; it tries
to write each `--write` path, the git dir's hooks and config, and to replace the worktree's
`.git`. Everything it read goes to `loot.txt` in its working directory (the worktree), every
write attempt to `escapes.txt`, and both are printed in lines of at most 4000 characters; the
last stdout line is `{"summary": ..., "escapes": [...]}` (`escapes`: the writes that worked).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

_MAX = 64 * 1024
_LINE = 4000


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes()[:_MAX].decode("utf-8", "replace")
    except OSError:
        return None


def _steal_path(path: Path, loot: list[str]) -> None:
    if path.is_dir():
        try:
            children = sorted(path.iterdir())
        except OSError:
            return
        for child in children:
            if child.is_file():
                _steal_path(child, loot)
        return
    text = _read(path)
    if text is not None:
        loot.append(f"{path}: {text}")


def _steal_proc(loot: list[str]) -> None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        for name in ("environ", "cmdline"):
            text = _read(entry / name)
            if text:
                loot.append(f"{entry}/{name}: {text.replace(chr(0), ' ')}")


def _mount_sources() -> list[Path]:
    """The host paths mounted into this sandbox, as mountinfo names them."""
    text = _read(Path("/proc/self/mountinfo")) or ""
    return [Path(line.split()[3]) for line in text.splitlines() if len(line.split()) > 4]


def _git_dirs(worktree: Path) -> list[Path]:
    dot_git = worktree / ".git"
    if dot_git.is_dir():
        return [dot_git]
    text = _read(dot_git) or ""
    if not text.startswith("gitdir:"):
        return []
    gitdir = (worktree / text.removeprefix("gitdir:").strip()).resolve()
    common = _read(gitdir / "commondir")
    dirs = [gitdir]
    if common is not None:
        dirs.append((gitdir / common.strip()).resolve())
    return dirs


def _try_write(path: Path, escapes: list[str], log: list[str]) -> None:
    try:
        with path.open("a") as handle:
            handle.write("#!/bin/sh\necho pwned\n")
    except OSError as exc:
        log.append(f"write {path}: failed ({exc.strerror})")
        return
    escapes.append(str(path))
    log.append(f"write {path}: WORKED")


def _try_replace(path: Path, escapes: list[str], log: list[str]) -> None:
    forged = path.with_name(path.name + ".forged")
    try:
        forged.mkdir(exist_ok=True)
        (forged / "HEAD").write_text("ref: refs/heads/main\n")
        forged.replace(path)
    except OSError as exc:
        log.append(f"replace {path}: failed ({exc.strerror})")
        return
    escapes.append(f"replaced {path}")
    log.append(f"replace {path}: WORKED")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--read", action="append", default=[], type=Path)
    parser.add_argument("--write", action="append", default=[], type=Path)
    parser.add_argument("rest", nargs="*")  # e.g. the prompt file a config passes
    args, _ = parser.parse_known_args()
    here = Path.cwd()
    loot = [f"env {key}={value}" for key, value in sorted(os.environ.items())]
    _steal_proc(loot)
    for path in [*args.read, *_mount_sources()]:
        _steal_path(path, loot)
    escapes: list[str] = []
    log: list[str] = []
    for gitdir in _git_dirs(here):
        _steal_path(gitdir / "config", loot)
        _try_write(gitdir / "config", escapes, log)
        _try_write(gitdir / "hooks" / "pre-commit", escapes, log)
        _try_write(gitdir / "hooks" / "post-checkout", escapes, log)
    # Point the worktree at a git dir of the agent's own making (hooks that Baton would run).
    _try_write(here / ".git", escapes, log)
    _try_replace(here / ".git", escapes, log)
    for path in args.write:
        _try_write(path, escapes, log)
    (here / "loot.txt").write_text("\n".join(loot))
    (here / "escapes.txt").write_text("\n".join(log))
    # Short lines: a runner reading stdout line by line may cap a line's length.
    for line in "\n".join([*loot, *log]).splitlines():
        for start in range(0, len(line), _LINE):
            print(line[start : start + _LINE])
    summary = f"read {len(loot)} things, {len(escapes)} writes outside worked"
    print(json.dumps({"summary": summary, "escapes": escapes}))


if __name__ == "__main__":
    main()
