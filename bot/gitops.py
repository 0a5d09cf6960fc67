"""Git for runs: the one way Baton runs git, commit, and a token-safe push (the mirrors and
worktrees they work in are bot/workspaces).

The installation token reaches git only through `GIT_CONFIG_*` environment variables (an
`http.extraHeader`), never argv, a URL or a log line. Every git Baton runs carries the settings
of `adapters.untrusted.SAFE_GIT_CONFIG` (no hooks, fsmonitor, drivers or submodule recursion),
and a worktree an agent has written to loses every nested `.git` before git reads it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.process import ProcessError, minimal_env, run
from adapters.untrusted import NO_DRIVERS, git_config_env
from config.errors import BatonError

if TYPE_CHECKING:
    from pathlib import Path

    from bot.github import InstallationToken

BOT_NAME = "baton[bot]"
BOT_EMAIL = "baton[bot]@users.noreply.github.com"


class GitError(BatonError):
    """A git step failed; the message is safe to show (it never holds a token). `output` is
    git's whole stderr (the message keeps its end)."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class BranchMoved(GitError):
    """The remote branch is no longer where the run started: someone else pushed to it."""


class PushRejected(BatonError):
    """GitHub refused the push by rule (branch protection, a ruleset): trying again cannot help,
    so it is no GitError (those are retried); the message is GitHub's reason and what to do."""

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(
            f"GitHub refused the push to `{ref}`: {reason} Nothing was pushed, and Baton will "
            "not try again by itself: let Baton's App push this branch (the repository's "
            "branch protection or rulesets), then trigger the run again."
        )
        self.ref = ref
        self.reason = reason


# What GitHub says when a rule, not the network, refused a push (GH006: branch protection,
# GH013: rulesets), and the reasons git prints for the refused ref.
_RULE_CODES = re.compile(r"\bGH0(06|13)\b")
_RULE_REFUSALS = (
    "protected branch hook declined",
    "push declined due to repository rule violations",
)


def rule_rejection(output: str) -> str | None:
    """GitHub's reason when `output` (git push's stderr) shows a push refused by a rule: its
    `remote:` lines, without decoration; None for any other failure (the network, a lease)."""
    if not _RULE_CODES.search(output) and not any(r in output for r in _RULE_REFUSALS):
        return None
    said = []
    for line in output.splitlines():
        text = line.strip()
        if not text.startswith("remote:"):
            continue
        text = text.removeprefix("remote:").strip().removeprefix("error:").strip()
        if text and not text.startswith("Review all repository rules"):
            said.append(text)
    return " ".join(said) if said else "a branch protection rule or ruleset refused it."


@dataclass(frozen=True, slots=True)
class Worktree:
    path: Path
    branch: str
    base_sha: str  # where the run started: the agent's changes are the diff from here


def pull_head(number: int) -> str:
    """Where a mirror keeps a pull request's head fetched from `refs/pull/<n>/head`."""
    return f"refs/baton/pull/{number}"


def branch_name(number: int, title: str) -> str:
    """`baton/<number>-<slug>`: stable for an issue, readable in the PR list."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-")
    return f"baton/{number}-{slug}" if slug else f"baton/{number}"


def auth_env(token: InstallationToken | None) -> dict[str, str]:
    extra: tuple[tuple[str, str], ...] = ()
    if token is not None:
        basic = base64.b64encode(
            b"x-access-token:" + token.value.get_secret_value().encode()
        ).decode()
        extra = (("http.extraHeader", f"Authorization: Basic {basic}"),)
    return minimal_env(**git_config_env(extra))


async def git(
    *args: str, cwd: Path, token: InstallationToken | None = None, stdin: bytes | None = None
) -> str:
    try:
        done = await run(["git", *args], cwd=cwd, env=auth_env(token), stdin=stdin, timeout_s=600)
    except ProcessError as exc:
        stderr = exc.stderr.strip()
        raise GitError(f"git {args[0]} failed: {stderr[-500:]}", output=stderr) from exc
    return done.out.strip()


async def commit(wt: Worktree, message: str) -> str:
    env_identity = (
        "-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}",
    )  # fmt: skip
    await git(
        *env_identity,
        "commit",
        "--quiet",
        "--no-verify",
        "-F",
        "-",
        cwd=wt.path,
        stdin=message.encode(),
    )
    return await git("rev-parse", "HEAD", cwd=wt.path)


async def diffstat(wt: Worktree) -> tuple[int, int, int]:
    """(files, lines added, lines removed) of the run's change."""
    out = await git("diff", "--numstat", *NO_DRIVERS, wt.base_sha, "HEAD", cwd=wt.path)
    files = added = removed = 0
    for line in out.splitlines():
        plus, minus, _ = line.split("\t", 2)
        files += 1
        added += int(plus) if plus.isdigit() else 0
        removed += int(minus) if minus.isdigit() else 0
    return files, added, removed


async def head_sha(wt: Worktree) -> str:
    return await git("rev-parse", "HEAD", cwd=wt.path)


async def push(
    wt: Worktree, *, clone_url: str, token: InstallationToken, expected_remote: str | None
) -> None:
    """Push HEAD to the run's branch, only if the remote branch is still where we left it."""
    lease = f"--force-with-lease=refs/heads/{wt.branch}:{expected_remote or ''}"
    try:
        await git(
            "push",
            "--quiet",
            "--no-verify",
            lease,
            clone_url,
            f"HEAD:refs/heads/{wt.branch}",
            cwd=wt.path,
            token=token,
        )
    except GitError as exc:
        # git says "stale info" when the lease does not hold: the branch moved under us.
        if "stale info" in str(exc):
            raise BranchMoved(str(exc)) from exc
        reason = rule_rejection(exc.output)
        if reason is not None:
            raise PushRejected(wt.branch, reason) from exc
        raise


async def push_ref(
    wt: Worktree, *, clone_url: str, token: InstallationToken, sha: str, ref: str
) -> None:
    """Create `ref` on the remote at `sha` (kept history: a replaced head stays reachable)."""
    try:
        await git("push", "--quiet", "--no-verify", clone_url, f"{sha}:{ref}", cwd=wt.path,
                  token=token)  # fmt: skip
    except GitError as exc:
        reason = rule_rejection(exc.output)
        if reason is not None:
            raise PushRejected(ref, reason) from exc
        raise


async def delete_branch(
    *, clone_url: str, token: InstallationToken, branch: str, expected: str, scratch: Path
) -> bool:
    """Delete the remote `branch` only while its head is `expected` (git checks the lease under
    the ref's lock, so a push that lands meanwhile keeps the branch); False when it moved or is
    gone already. `scratch`: an empty directory git may use as its repository."""
    await git("init", "--quiet", str(scratch), cwd=scratch.parent)
    lease = f"--force-with-lease=refs/heads/{branch}:{expected}"
    try:
        await git(
            "push",
            "--quiet",
            "--no-verify",
            lease,
            clone_url,
            f":refs/heads/{branch}",
            cwd=scratch,
            token=token,
        )
    except GitError as exc:
        if "stale info" in str(exc) or "remote ref does not exist" in str(exc):
            return False
        raise
    return True


async def ls_remote(
    *, cwd: Path, clone_url: str, token: InstallationToken, branch: str
) -> str | None:
    out = await git("ls-remote", clone_url, f"refs/heads/{branch}", cwd=cwd, token=token)
    return out.split()[0] if out else None
