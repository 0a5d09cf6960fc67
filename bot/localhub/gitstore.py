"""What the emulator asks of its bare repositories, answered by the real git."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from adapters.process import ProcessError, minimal_env, run

# Git's well-known empty tree: the base of a diff for a branch with no shared history.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitStoreError(Exception):
    """A git command on a hosted repository failed."""


@dataclass(frozen=True, slots=True)
class Entry:
    mode: str
    type: str  # blob | tree | commit
    sha: str
    size: int
    path: str


@dataclass(frozen=True, slots=True)
class FileChange:
    filename: str
    status: str  # added | removed | modified
    sha: str  # blob sha on the head side (base side for a removed file)
    additions: int
    deletions: int
    patch: str


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


def _env(**extra: str) -> dict[str, str]:
    return minimal_env(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, **extra)


async def git(repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
              check: bool = True) -> str:  # fmt: skip
    try:
        done = await run(
            ["git", *args], cwd=repo, env=env or _env(), stdin=stdin, timeout_s=120, check=check
        )
    except ProcessError as exc:
        raise GitStoreError(f"git {args[0]}: {exc.stderr.strip()[-300:]}") from exc
    return done.out if done.returncode == 0 else ""


async def init(path: Path, default_branch: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    await git(path, "init", "--bare", "--quiet", f"--initial-branch={default_branch}", ".")
    # Pushes over HTTP run as REMOTE_USER; receive-pack needs no further config.
    await git(path, "config", "http.receivepack", "true")


async def resolve(path: Path, ref: str) -> str | None:
    """The commit sha of a branch name, a full ref or a sha; None if it names nothing."""
    for candidate in (f"refs/heads/{ref}", ref):
        out = await git(
            path, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False
        )
        if out.strip():
            return out.strip()
    return None


async def branches(path: Path) -> dict[str, str]:
    out = await git(path, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


async def entries(path: Path, commit: str, target: str) -> list[Entry]:
    """The tree entry at `target` (a file: one; a directory: its children)."""
    target = target.strip("/")
    spec = f"{commit}:{target}" if target else f"{commit}^{{tree}}"
    kind = (await git(path, "cat-file", "-t", spec, check=False)).strip()
    if kind == "tree":
        out = await git(path, "ls-tree", "-l", spec)
        prefix = f"{target}/" if target else ""
    elif kind == "blob":
        out = await git(path, "ls-tree", "-l", commit, "--", target)
        prefix = ""
    else:
        return []
    found = []
    for line in out.splitlines():
        meta, name = line.split("\t", 1)
        mode, typ, sha, size = meta.split()
        found.append(Entry(mode, typ, sha, int(size) if size != "-" else 0, prefix + name))
    return found


async def blob(path: Path, sha: str) -> bytes:
    try:
        done = await run(["git", "cat-file", "blob", sha], cwd=path, env=_env(), timeout_s=120)
    except ProcessError as exc:
        raise GitStoreError(f"git cat-file: {exc.stderr.strip()[-300:]}") from exc
    return done.stdout


async def commit_info(path: Path, sha: str) -> CommitInfo:
    fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
    out = await git(path, "show", "-s", f"--format={fmt}", sha)
    parts = out.split("\x00")
    return CommitInfo(
        sha=parts[0], tree=parts[1], parents=tuple(parts[2].split()),
        author_name=parts[3], author_email=parts[4], author_date=parts[5],
        committer_name=parts[6], committer_email=parts[7], committer_date=parts[8],
        message=parts[9].rstrip("\n"),
    )  # fmt: skip


async def commit_file(
    path: Path,
    *,
    branch: str,
    file_path: str,
    content: bytes,
    message: str,
    name: str,
    email: str,
) -> str:
    """Commit one file on `branch` (created if absent) without a worktree; the new sha."""
    parent = await resolve(path, branch)
    with tempfile.TemporaryDirectory(prefix="localhub-index-") as tmp:
        env = _env(
            GIT_INDEX_FILE=str(Path(tmp) / "index"),
            GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
            GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email,
        )  # fmt: skip
        if parent:
            await git(path, "read-tree", parent, env=env)
        sha = (await git(path, "hash-object", "-w", "--stdin", stdin=content, env=env)).strip()
        await git(path, "update-index", "--add", "--cacheinfo", f"100644,{sha},{file_path}",
                  env=env)  # fmt: skip
        tree = (await git(path, "write-tree", env=env)).strip()
        parents = ["-p", parent] if parent else []
        commit = (
            await git(path, "commit-tree", tree, *parents, stdin=message.encode(), env=env)
        ).strip()
    await git(path, "update-ref", f"refs/heads/{branch}", commit, parent or "")
    return commit


async def merge_base(path: Path, base: str, head: str) -> str | None:
    out = await git(path, "merge-base", base, head, check=False)
    return out.strip() or None


async def ahead(path: Path, base: str, head: str) -> int:
    return int((await git(path, "rev-list", "--count", f"{base}..{head}")).strip())


async def commits_between(path: Path, base: str, head: str) -> list[str]:
    """The commits on `head` since its merge base with `base`, oldest first (a PR's commits)."""
    start = await merge_base(path, base, head)
    span = f"{start}..{head}" if start else head
    return (await git(path, "rev-list", "--reverse", span)).split()


async def mergeable(path: Path, base: str, head: str) -> bool:
    out = await git(path, "merge-tree", "--write-tree", "--name-only", base, head, check=False)
    return bool(out.strip())


async def diff(path: Path, base: str, head: str) -> list[FileChange]:
    """The files a PR changes: head against its merge base with base (GitHub's three dots)."""
    start = await merge_base(path, base, head) or EMPTY_TREE
    raw = await git(path, "diff", "--raw", "--no-abbrev", "--no-renames", "-z", start, head)
    numstat = await git(path, "diff", "--numstat", "--no-renames", "-z", start, head)
    patch = await git(path, "diff", "--no-color", "--no-renames", "--no-ext-diff", start, head)
    fields = raw.split("\x00")
    meta: dict[str, tuple[str, str]] = {}
    for i in range(0, len(fields) - 1, 2):
        if not fields[i].startswith(":"):
            continue
        _, _, old_sha, new_sha, status = fields[i][1:].split(" ")
        sha = old_sha if status == "D" else new_sha
        meta[fields[i + 1]] = ({"A": "added", "D": "removed"}.get(status[0], "modified"), sha)
    counts: dict[str, tuple[int, int]] = {}
    for rec in numstat.split("\x00"):
        parts = rec.split("\t")
        if len(parts) == 3:
            add, dele, name = parts
            counts[name] = (int(add) if add != "-" else 0, int(dele) if dele != "-" else 0)
    patches = _split_patch(patch)
    return [
        FileChange(name, status, sha, *counts.get(name, (0, 0)), patches.get(name, ""))
        for name, (status, sha) in meta.items()
    ]


def _split_patch(patch: str) -> dict[str, str]:
    """Per file, the hunks of a unified diff (GitHub's `patch` field starts at the first @@)."""
    out: dict[str, str] = {}
    for section in patch.split("\ndiff --git "):
        body = section.removeprefix("diff --git ")
        header, _, rest = body.partition("\n@@")
        name = ""
        for line in header.splitlines():
            if line.startswith("+++ b/") or (line.startswith("--- a/") and not name):
                name = line[6:]
        if name and rest:
            out[name] = "@@" + rest.rstrip("\n")
    return out
