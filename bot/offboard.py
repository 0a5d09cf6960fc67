"""When an installation goes (deleted, suspended) or loses repositories: its queued and running
runs are cancelled, its repositories' mirrors removed on every worker machine, and the removal
remembered, so `baton purge --installation ID` can delete its ledger rows later (they stay until
then: they are the spend history).
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.queue import JobStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from bot.queue import JobContext, JobInfo, JobQueue
    from bot.run.services import Services
    from bot.store.base import RemovedRepo

log = logging.getLogger(__name__)

TASK = "offboard"


@dataclass(frozen=True, slots=True, kw_only=True)
class Offboarding:
    """What an installation lost: every repository of `owner` (`repos` empty), or `repos`."""

    installation_id: int
    owner: str
    repos: tuple[str, ...]
    reason: str  # "uninstalled", "suspended", "removed from the installation"

    def job_args(self) -> dict[str, Any]:
        return {
            "installation_id": self.installation_id,
            "owner": self.owner,
            "repos": list(self.repos),
            "reason": self.reason,
        }

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Offboarding:
        return cls(
            installation_id=int(args["installation_id"]),
            owner=str(args["owner"]),
            repos=tuple(str(r) for r in args.get("repos") or ()),
            reason=str(args["reason"]),
        )

    @property
    def patterns(self) -> tuple[str, ...]:
        """The removal as stored: the repositories, or `owner/*` for all of the account's."""
        return self.repos or (f"{self.owner}/*",)


def repo_matches(repo: str, patterns: Sequence[str]) -> bool:
    """`repo` is one of `patterns` (exact names, or `owner/*`); case as GitHub ignores it."""
    name = repo.lower()
    return any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns)


def job_target(args: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(installation id, repository) of a job, whichever task it is (a run and a control
    command carry the trigger's fields; an acknowledgement carries them under `trigger`)."""
    fields = args.get("trigger") if isinstance(args.get("trigger"), dict) else args
    assert isinstance(fields, dict)
    installation = fields.get("installation_id")
    repo = fields.get("repo")
    return (
        int(installation) if isinstance(installation, int) else None,
        repo if isinstance(repo, str) else None,
    )


def affects(job: JobInfo, gone: Offboarding) -> bool:
    """Whether `job` works on something the installation lost."""
    if job.task == TASK:
        return False
    installation, repo = job_target(job.args)
    if installation is not None and installation != gone.installation_id:
        return False
    return repo is not None and repo_matches(repo, gone.patterns)


async def cancel_jobs(queue: JobQueue, gone: Offboarding) -> list[int]:
    """Cancel the queued, then the running jobs of what was lost (on whichever worker runs
    them); their ids."""
    cancelled: list[int] = []
    for status in (JobStatus.QUEUED, JobStatus.RUNNING):
        jobs = [job for job in await queue.list_jobs(status=status) if affects(job, gone)]
        cancelled += [job.id for job in jobs if await queue.cancel(job.id)]
    return cancelled


async def remove_mirrors(services: Services, removed: Sequence[RemovedRepo]) -> list[str]:
    """This machine's mirrors of removed repositories, unless fetched since their removal."""
    gone: list[str] = []
    for repo, _fetched in sorted(services.workspaces.mirrors().items()):
        for removal in removed:
            if repo_matches(repo, (removal.repo,)) and await services.workspaces.remove_mirror(
                repo, fetched_before=removal.removed_at
            ):
                gone.append(repo)
                break
    return gone


async def offboard_job(services: Services, queue: JobQueue, ctx: JobContext) -> None:
    """The queue's `offboard` task."""
    gone = Offboarding.from_args(ctx.args)
    await services.store.record_removed(
        gone.patterns, installation_id=gone.installation_id, reason=gone.reason
    )
    cancelled = await cancel_jobs(queue, gone)
    removals = [
        r
        for r in await services.store.removed_repos()
        if r.installation_id == gone.installation_id and r.repo in gone.patterns
    ]
    mirrors = await remove_mirrors(services, removals)
    log.info(
        "installation %d %s (%s): cancelled jobs %s, removed mirrors %s here (other worker "
        "machines drop theirs within minutes)",
        gone.installation_id,
        gone.reason,
        ", ".join(gone.patterns),
        cancelled or "none",
        mirrors or "none",
    )
