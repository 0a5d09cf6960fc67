"""Git for runs: a cached bare mirror per repo, a worktree per run, commit, and a token-safe push.

The installation token reaches git only through `GIT_CONFIG_*` environment variables (an
`http.extraHeader`), never argv, a URL or a log line. Every git Baton runs carries the settings
of `adapters.untrusted.SAFE_GIT_CONFIG` (no hooks, fsmonitor, drivers or submodule recursion),
and a worktree an agent has written to loses every nested `.git` before git reads it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import shutil
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from adapters import diskquota, overlay
from adapters.filelock import flocked
from adapters.process import ProcessError, minimal_env, run
from adapters.untrusted import NO_DRIVERS, git_config_env
from bot.pristine import Pristines, index_of
from bot.runareas import RunAreas
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from adapters.base import Limits, Resources
    from bot.github import InstallationToken

log = logging.getLogger(__name__)

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


class Workspaces:
    """Mirrors under `<root>/mirrors`; a run's area `<root>/runs/<run_id>` holds its worktree and
    its scratch (the agent's HOME). With `resources`, the area is a filesystem of its own (a
    sparse image under `<root>/images`), so both count against the run's disk limit; the
    worktree is then an overlay over a pristine checkout under `<root>/pristine` (bot/pristine),
    its writes in the area, where the server can mount one."""

    def __init__(self, *, root: Path, resources: Resources | None = None) -> None:
        self._root = root
        self._areas = RunAreas(root=root, resources=resources)
        self._locks: dict[str, asyncio.Lock] = {}
        size = resources.disk_bytes if resources is not None else None
        self._pristines = Pristines(root=root, git=git, size=size)
        # Why worktrees are checkouts here, not overlays (None: overlays are tried).
        self._overlay_fails = overlay.unavailable(root)

    def _mirror(self, repo: str) -> Path:
        return self._root / "mirrors" / f"{repo}.git"

    @contextlib.asynccontextmanager
    async def _mirror_lock(self, repo: str) -> AsyncIterator[None]:
        """The mirror to this holder alone: this process's tasks wait on the asyncio lock, other
        processes sharing `root` (worker processes on this machine) on an flock beside it."""
        mirror = self._mirror(repo)
        lock = self._locks.setdefault(repo, asyncio.Lock())
        async with lock, flocked(mirror.with_name(f"{mirror.name}.lock")):
            yield

    def worktree_path(self, run_id: str) -> Path:
        return self._areas.path(run_id) / "worktree"

    def bounded(self, wt: Worktree, limits: Limits) -> Limits:
        """`limits` for the agent run in `wt`: this server's per-run resources, HOME in its area."""
        scratch = wt.path.parent / "scratch"
        return replace(
            limits,
            resources=self._areas.resources or limits.resources,
            scratch=scratch if scratch.is_dir() else None,
        )

    async def _fetch(
        self, repo: str, clone_url: str, token: InstallationToken, *, pull: int | None = None
    ) -> Path:
        mirror = self._mirror(repo)
        if not (mirror / "HEAD").exists():
            mirror.mkdir(parents=True, exist_ok=True)
            await git("init", "--bare", "--quiet", str(mirror), cwd=mirror)
        # Remote-tracking refs, not refs/heads: a branch checked out in a worktree cannot be
        # updated by fetch, and runs keep their own local branches. A pull request's head (a
        # fork's, which the base repository keeps) goes outside them, where --prune leaves it.
        extra = [f"+refs/pull/{pull}/head:{pull_head(pull)}"] if pull is not None else []
        await git(
            "fetch", "--prune", "--quiet", "--no-tags", clone_url,
            "+refs/heads/*:refs/remotes/origin/*", *extra, cwd=mirror, token=token,
        )  # fmt: skip
        return mirror

    async def diff(
        self,
        *,
        repo: str,
        clone_url: str,
        token: InstallationToken,
        base: str,
        head: str = "",
        pull: int | None = None,
    ) -> str:
        """The PR's diff as GitHub shows it (three-dot: changes since the branches split), from
        its `head` branch, or with `pull` from that pull request's head as the base repository
        keeps it (a fork's)."""
        async with self._mirror_lock(repo):
            mirror = await self._fetch(repo, clone_url, token, pull=pull)
        tip = pull_head(pull) if pull is not None else f"refs/remotes/origin/{head}"
        spec = f"refs/remotes/origin/{base}...{tip}"
        return await git("diff", "--no-color", *NO_DRIVERS, spec, cwd=mirror)

    async def remote_sha(self, repo: str, branch: str) -> str | None:
        mirror = self._mirror(repo)
        try:
            return await git(
                "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}", cwd=mirror
            )
        except GitError:
            return None

    async def prepare(
        self,
        *,
        repo: str,
        clone_url: str,
        token: InstallationToken,
        run_id: str,
        branch: str,
        start: str,
        pull: int | None = None,
    ) -> Worktree:
        """A fresh worktree for the run on `branch`, starting at origin's `start` branch (or,
        with `pull`, at that pull request's head as the base repository keeps it)."""
        async with self._mirror_lock(repo):
            mirror = await self._fetch(repo, clone_url, token, pull=pull)
            path = self.worktree_path(run_id)
            await self._drop(mirror, run_id)
            area = await self._areas.make(run_id)
            ref = pull_head(pull) if pull is not None else f"refs/remotes/origin/{start}"
            try:
                base = await git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=mirror)
                if diskquota.is_mounted(area) and self._overlay_fails is None:
                    await self._overlaid(mirror, repo, area=area, branch=branch, base=base)
                else:
                    await git("worktree", "add", "--force", "-B", branch, str(path), base,
                              cwd=mirror)  # fmt: skip
            except BaseException:
                # Failed or cancelled: no mounted image is left behind for a run that never ran.
                await self._drop(mirror, run_id)
                raise
        return Worktree(path=path, branch=branch, base_sha=base)

    async def _overlaid(
        self, mirror: Path, repo: str, *, area: Path, branch: str, base: str
    ) -> None:
        """The worktree at `<area>/worktree` as an overlay: the repository's pristine checkout
        near `base` below, the run's writes in `area` above; its index starts as the pristine
        one's (whose file stats the overlay shows unchanged), and only the files that differ
        from `base` are written."""
        lower = await self._pristines.lower_for(mirror, repo, base)
        path = area / "worktree"
        await git("worktree", "add", "--quiet", "--no-checkout", "--force", "-B", branch,
                  str(path), base, cwd=mirror)  # fmt: skip
        dot_git = path / ".git"
        pointer = dot_git.read_bytes()
        dot_git.unlink()
        try:
            await overlay.mount(lower=lower, upper=area / "upper", work=area / "work", at=path)
        except overlay.OverlayError as exc:
            # This kernel or filesystem refuses: this run and the later ones check out.
            self._overlay_fails = str(exc)
            log.warning("worktrees are checkouts from now on: %s", exc)
            dot_git.write_bytes(pointer)
            await git("reset", "--quiet", "--hard", "HEAD", cwd=path)
            return
        dot_git.write_bytes(pointer)  # the run's own, above the pristine checkout's
        shutil.copyfile(index_of(lower), index_of(path))
        if lower.parent.name != base:
            await git("reset", "--quiet", "--hard", "HEAD", cwd=path)

    async def existing(self, *, run_id: str, branch: str) -> Worktree | None:
        """The worktree a previous attempt of this run left, if it is still intact."""
        path = self.worktree_path(run_id)
        if not (path / ".git").exists():
            return None
        try:
            base = await git("merge-base", "HEAD", f"refs/remotes/origin/{branch}", cwd=path)
        except GitError:
            base = await git("rev-parse", "HEAD~1", cwd=path)
        return Worktree(path=path, branch=branch, base_sha=base)

    async def _drop(self, mirror: Path, run_id: str) -> None:
        path = self.worktree_path(run_id)
        await overlay.unmount(path)
        if path.exists():
            try:
                await git("worktree", "remove", "--force", str(path), cwd=mirror)
            except GitError:
                shutil.rmtree(path, ignore_errors=True)
        await git("worktree", "prune", cwd=mirror)
        await self._areas.remove(run_id)  # the area goes with its worktree

    async def remove(self, repo: str, run_id: str) -> None:
        mirror = self._mirror(repo)
        if mirror.exists():
            async with self._mirror_lock(repo):
                await self._drop(mirror, run_id)
        else:
            await self._areas.remove(run_id)

    def mirrors(self) -> dict[str, float]:
        """The repositories mirrored on this machine, with when each was last fetched."""
        base = self._root / "mirrors"
        found: dict[str, float] = {}
        for head in base.glob("*/*.git/HEAD"):
            mirror = head.parent
            fetched = mirror / "FETCH_HEAD"
            when = (fetched if fetched.exists() else head).stat().st_mtime
            found[f"{mirror.parent.name}/{mirror.name.removesuffix('.git')}"] = when
        return found

    async def remove_mirror(self, repo: str, *, fetched_before: float | None = None) -> bool:
        """Delete this machine's mirror of `repo` (the next run that needs it clones again);
        with `fetched_before`, only if no run has fetched it since. True if it was removed."""
        mirror = self._mirror(repo)
        if not mirror.exists():
            return False
        async with self._mirror_lock(repo):
            fetched = mirror / "FETCH_HEAD"
            used = fetched.stat().st_mtime if fetched.exists() else None
            if fetched_before is not None and used is not None and used >= fetched_before:
                return False  # used again since (the app was installed anew)
            await self._pristines.collect(mirror, repo)
            shutil.rmtree(mirror, ignore_errors=True)
        return True

    async def close(self) -> None:
        """On shutdown: no run area of this process outlives it, nor a pristine checkout no
        run uses (another process's runs keep theirs)."""
        await self._areas.close()
        await self._collect_pristines()

    async def sweep(self) -> list[str]:
        """On start: the run areas a process that died left behind are removed, and the
        pristine checkouts no run uses."""
        swept = await self._areas.sweep()
        await self._collect_pristines()
        return swept

    async def drop_idle_checkouts(self, *, used_before: float) -> list[str]:
        """Remove the pristine checkouts no run has started from since `used_before` (and none
        uses); the repositories that lost one."""
        return await self._collect_pristines(used_before=used_before)

    async def _collect_pristines(self, *, used_before: float | None = None) -> list[str]:
        dropped: list[str] = []
        for repo in self._pristines.repos():
            async with self._mirror_lock(repo):
                mirror = self._mirror(repo)
                if await self._pristines.collect(mirror, repo, used_before=used_before):
                    dropped.append(repo)
        return dropped


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
