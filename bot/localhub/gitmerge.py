"""Merges and reverts made on the hosted (bare) repositories, as GitHub makes them server-side:
trees from `git merge-tree`, commits from `git commit-tree`, refs moved only from where they
were."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.localhub import gitstore

# Web merges are committed by GitHub itself, authored by the person who merged.
COMMITTER = ("GitHub", "noreply@localhub")


def _env(author: str) -> dict[str, str]:
    email = f"{author}@users.noreply.localhub"
    return gitstore._env(
        GIT_AUTHOR_NAME=author,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=COMMITTER[0],
        GIT_COMMITTER_EMAIL=COMMITTER[1],
    )


async def merged_tree(path: Path, ours: str, theirs: str) -> str | None:
    """The tree of `theirs` merged into `ours`; None on a conflict."""
    # On a conflict git exits 1, which reads as no output here: no merge then.
    out = await gitstore.git(path, "merge-tree", "--write-tree", ours, theirs, check=False)
    return out.split()[0] if out.strip() else None


async def three_way_tree(path: Path, *, base: str, ours: str, theirs: str) -> str | None:
    """`theirs` applied to `ours` as a change from `base`, file by file (git's index merge, which
    git 2.39's merge-tree cannot be given a base for); None when a file changed on both sides."""
    with tempfile.TemporaryDirectory(prefix="localhub-merge-") as tmp:
        env = gitstore._env(GIT_INDEX_FILE=str(Path(tmp) / "index"))
        await gitstore.git(
            path, "read-tree", "-m", "-i", "--aggressive", base, ours, theirs, env=env
        )
        return (await gitstore.git(path, "write-tree", env=env, check=False)).strip() or None


async def commit(path: Path, *, tree: str, parents: list[str], message: str, author: str) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    out = await gitstore.git(path, *args, stdin=message.encode(), env=_env(author))
    return out.strip()


async def move_branch(path: Path, branch: str, new: str, old: str) -> bool:
    """Point `branch` at `new` only if it is still at `old` ("" to create it); False if it moved."""
    ref = f"refs/heads/{branch}"
    if await gitstore.resolve(path, ref) != (old or None):
        return False
    # git checks `old` again under the ref's lock: a push that lands meanwhile wins.
    await gitstore.git(path, "update-ref", ref, new, old or "0" * 40, check=False)
    return await gitstore.resolve(path, ref) == new


async def parents(path: Path, sha: str) -> tuple[str, ...]:
    return (await gitstore.commit_info(path, sha)).parents
