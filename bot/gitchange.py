"""The agent's change: staged once nothing in the worktree can steer git, then read as git's
objects hold it (what the policy check and the secret scan see before a push).

Contents are read from the object store (`git cat-file`), never from the worktree's files: the
agent's links and special files are git's content there, and nothing in the tree is followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.process import ProcessError, run
from adapters.untrusted import NO_DRIVERS, remove_nested_git
from bot.gitops import GitError, auth_env, git

if TYPE_CHECKING:
    from bot.gitops import Worktree


@dataclass(frozen=True, slots=True)
class Staged:
    changed: list[str]  # paths changed since the run's start
    removed_git: list[str]  # nested `.git` entries the agent made, deleted before git looked


async def stage_changes(wt: Worktree) -> Staged:
    """Stage everything the agent changed, once nothing in the tree can steer git."""
    removed = remove_nested_git(wt.path)
    await git("add", "--all", cwd=wt.path)
    out = await git(
        "diff", "--cached", "--name-only", "--no-renames", *NO_DRIVERS, wt.base_sha, cwd=wt.path
    )
    return Staged(changed=[line for line in out.splitlines() if line], removed_git=removed)


async def staged_diff(wt: Worktree) -> str:
    """The staged change as text (binary files too), with no driver of the tree's choosing."""
    return await git("diff", "--cached", "--text", *NO_DRIVERS, wt.base_sha, cwd=wt.path)


# A file larger than this is not pushed: GitHub refuses files over 100 MiB, and every byte of
# what is pushed is read by the secret scan first.
MAX_FILE_BYTES = 50 * 1024 * 1024


class FileTooLarge(GitError):
    """The agent wrote a file larger than Baton scans and pushes."""


@dataclass(frozen=True, slots=True)
class Blob:
    """One changed path of the staged change: its content before (None if new) and after
    (None if deleted), read from git's object store, never from the worktree's files."""

    path: str
    old: bytes | None
    new: bytes | None


async def _objects(wt: Worktree, shas: list[str]) -> dict[str, bytes]:
    if not shas:
        return {}
    try:
        done = await run(
            ["git", "cat-file", "--batch"],
            cwd=wt.path,
            env=auth_env(None),
            stdin="".join(f"{sha}\n" for sha in shas).encode(),
            timeout_s=600,
        )
    except ProcessError as exc:
        raise GitError(f"git cat-file failed: {exc.stderr.strip()[-500:]}") from exc
    out, data, at = {}, done.stdout, 0
    while at < len(data):
        end = data.index(b"\n", at)
        sha, _kind, size = data[at:end].decode().split(" ")
        start = end + 1
        out[sha] = data[start : start + int(size)]
        at = start + int(size) + 1
    return out


async def staged_blobs(wt: Worktree) -> list[Blob]:
    """Every path the staged change adds, modifies or deletes, with both contents.

    Raises FileTooLarge before reading anything when a new file is over MAX_FILE_BYTES.
    """
    raw = await git(
        "diff",
        "--cached",
        "--raw",
        "-z",
        "--no-renames",
        "--no-abbrev",
        wt.base_sha,
        cwd=wt.path,
    )
    fields = raw.split("\0")
    changes: list[tuple[str, str, str]] = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        _old_mode, new_mode, old_sha, new_sha, _status = meta[1:].split(" ")
        if new_mode == "160000":
            new_sha = "0" * 40  # a submodule pointer holds no content
        changes.append((path, old_sha, new_sha))
    wanted = [s for _, o, n in changes for s in (o, n) if s.strip("0")]
    sizes = await git(
        "cat-file",
        "--batch-check=%(objectname) %(objectsize)",
        cwd=wt.path,
        stdin="".join(f"{s}\n" for s in wanted).encode(),
    )
    size = dict(line.split(" ") for line in sizes.splitlines() if line.count(" ") == 1)
    for path, _, new_sha in changes:
        if int(size.get(new_sha, "0")) > MAX_FILE_BYTES:
            raise FileTooLarge(
                f"the agent wrote `{path}`, larger than the {MAX_FILE_BYTES // 2**20} MiB Baton "
                "scans and pushes"
            )
    contents = await _objects(wt, wanted)
    return [Blob(path, contents.get(o), contents.get(n)) for path, o, n in changes]


async def staged_lines(wt: Worktree) -> int:
    """Lines the staged change adds and removes together (a binary file counts none)."""
    return sum((await staged_lines_by_file(wt)).values())


async def staged_lines_by_file(wt: Worktree) -> dict[str, int]:
    """Lines the staged change adds and removes, per file (a binary file counts none)."""
    out = await git("diff", "--cached", "--numstat", "-z", *NO_DRIVERS, wt.base_sha, cwd=wt.path)
    counts: dict[str, int] = {}
    fields = out.split("\0")
    i = 0
    while i < len(fields) - 1:
        plus, minus, path = fields[i].split("\t", 2)
        if not path:  # a rename: the old and the new name follow, each NUL-terminated
            path, i = fields[i + 2], i + 2
        counts[path] = (int(plus) if plus.isdigit() else 0) + (int(minus) if minus.isdigit() else 0)
        i += 1
    return counts
