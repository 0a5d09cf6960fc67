"""Pristine checkouts: per repository on this machine, a checkout of every file that Baton made
from its mirror and no agent ever wrote to; the lower layer of the runs' overlay worktrees
(adapters/overlay). A run whose base is near the last one used (few files differ) starts from
it, and only the files that differ are written; otherwise a new one is made at the run's base,
and those no mount uses any more are removed.

Each checkout is a filesystem of its own where the server can mount one (a sparse image, as a
run's area is): made in one go and removed by an unmount, not file by file.

Every method is called with the repository's mirror lock held (bot/gitops), so the processes of
one machine never make or remove a repository's pristine checkouts at the same time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters import diskquota, overlay

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    Git = Callable[..., Awaitable[str]]

# A base this many files away from the last checkout used gets one of its own: writing that
# many files into the run's upper layer would cost what a checkout costs.
NEAR_FILES = 1000
_READY = ".ready"


class Pristines:
    """`<root>/pristine/<repo>/<sha>/tree`, with `<sha>.ready` beside it once it is whole; its
    image of `size` bytes (sparse) under `<root>/images/pristine`."""

    def __init__(self, *, root: Path, git: Git, size: int) -> None:
        self._root = root / "pristine"
        self._images = root / "images" / "pristine"
        self._git = git
        self._size = size

    def repos(self) -> list[str]:
        """The repositories with pristine checkouts here."""
        return sorted(f"{p.parent.name}/{p.name}" for p in self._root.glob("*/*") if p.is_dir())

    def _area(self, repo: str, sha: str) -> Path:
        return self._root / repo / sha

    def _ready(self, repo: str) -> list[Path]:
        """The repository's whole checkouts (their trees), the last used first."""
        marks = sorted(
            (self._root / repo).glob(f"*{_READY}"), key=lambda m: m.stat().st_mtime, reverse=True
        )
        trees = [m.with_suffix("") / "tree" for m in marks]
        return [t for t in trees if _registered(t)]

    async def lower_for(self, mirror: Path, repo: str, base: str) -> Path:
        """The pristine tree a worktree at commit `base` starts from (made when none is near
        enough; its directory's parent is named by its commit)."""
        ready = self._ready(repo)
        chosen = next((t for t in ready if t.parent.name == base), None)
        if chosen is None and ready and await self._near(mirror, ready[0].parent.name, base):
            chosen = ready[0]
        if chosen is not None:
            self._mark(chosen.parent).touch()  # the last used is tried first
            return chosen
        made = await self._make(mirror, repo, base)
        await self.collect(mirror, repo, keep=made)
        return made

    async def _near(self, mirror: Path, sha: str, base: str) -> bool:
        changed = await self._git("diff-tree", "-r", "--name-only", "--no-renames", sha, base,
                                  cwd=mirror)  # fmt: skip
        return len(changed.splitlines()) <= NEAR_FILES

    async def _make(self, mirror: Path, repo: str, base: str) -> Path:
        """A checkout at `base` (a leftover of one never finished goes first: only a whole one
        is ever mounted below a run)."""
        area = self._area(repo, base)
        await self._remove(mirror, area)
        area.parent.mkdir(parents=True, exist_ok=True)
        await diskquota.make_area(area, image=self._image(area), size=self._size)
        tree = area / "tree"
        await self._git("worktree", "add", "--quiet", "--detach", "--force", str(tree), base,
                        cwd=mirror)  # fmt: skip
        self._mark(area).touch()
        return tree

    async def collect(
        self,
        mirror: Path,
        repo: str,
        *,
        keep: Path | None = None,
        used_before: float | None = None,
    ) -> list[Path]:
        """Remove the repository's checkouts no overlay uses (all but the tree `keep`; with
        `used_before`, only those no run started from since); the ones removed."""
        folder = self._root / repo
        if not folder.is_dir():
            return []
        used = overlay.lowers_in_use()
        removed: list[Path] = []
        for area in [p for p in folder.iterdir() if p.is_dir()]:
            if area / "tree" in {keep, *used}:
                continue
            mark = self._mark(area)
            if used_before is not None and mark.exists() and mark.stat().st_mtime >= used_before:
                continue
            await self._remove(mirror, area)
            removed.append(area)
        for mark in folder.glob(f"*{_READY}"):
            if not mark.with_suffix("").is_dir():
                mark.unlink(missing_ok=True)
        return removed

    def _mark(self, area: Path) -> Path:
        return area.with_name(area.name + _READY)

    def _image(self, area: Path) -> Path:
        return self._images / area.parent.parent.name / area.parent.name / f"{area.name}.img"

    async def _remove(self, mirror: Path, area: Path) -> None:
        """Unmarked, unmounted and deleted, then (when the mirror is there) out of the mirror."""
        self._mark(area).unlink(missing_ok=True)
        await diskquota.remove_area(area, image=self._image(area))
        if (mirror / "HEAD").exists():
            await self._git("worktree", "prune", cwd=mirror)


def _gitdir(checkout: Path) -> Path:
    text = (checkout / ".git").read_text().strip()
    return checkout / text.removeprefix("gitdir:").strip()


def index_of(checkout: Path) -> Path:
    """The index file of a linked worktree (from the `gitdir:` line of its `.git` file)."""
    return _gitdir(checkout) / "index"


def _registered(tree: Path) -> bool:
    """Whether `tree` is still its mirror's worktree: a mirror removed and made again (the app
    installed anew) may hold another worktree under the name this one's `.git` points to."""
    try:
        back = (_gitdir(tree) / "gitdir").read_text().strip()
    except OSError:
        return False
    return back == str(tree / ".git")
