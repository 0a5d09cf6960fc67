"""Workspaces: a cached bare mirror per repository on this machine, and a worktree per run in
the run's own area (bot/runareas); on a root server the worktree is an overlay over the
repository's pristine checkout (bot/pristine). The git they run is `bot.gitops.git`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import replace
from typing import TYPE_CHECKING

from adapters import diskquota, overlay
from adapters.base import Resources
from adapters.filelock import flocked
from adapters.untrusted import NO_DRIVERS
from bot.gitops import GitError, Worktree, git, pull_head
from bot.pristine import Pristines, index_of
from bot.runareas import RunAreas

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from adapters.base import Limits
    from bot.github import InstallationToken

log = logging.getLogger(__name__)


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
        size = (resources or Resources()).disk_bytes
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
        mounted = True
        try:
            await overlay.mount(lower=lower, upper=area / "upper", work=area / "work", at=path)
        except overlay.OverlayError as exc:
            # This kernel or filesystem refuses: this run (below) and the later ones check out.
            self._overlay_fails = str(exc)
            log.warning("worktrees are checkouts from now on: %s", exc)
            mounted = False
        dot_git.write_bytes(pointer)  # the run's own (above the pristine checkout's)
        if mounted:
            shutil.copyfile(index_of(lower), index_of(path))
        if not mounted or lower.parent.name != base:
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
        if await overlay.unmount(path):
            # What is left under an overlay is the empty mount point: nothing for git to remove.
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
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
