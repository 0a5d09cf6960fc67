"""The live check run's way to GitHub: one repository's check runs, through `bot.gh`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.render import CHECK_NAME

if TYPE_CHECKING:
    from bot.github import GitHubApp
    from bot.trigger import Trigger


class GitHubChecks:
    """Creates and updates the Baton check run of one repository; each call on its own client
    (the installation token is cached), so a call never outlives the run's own client."""

    def __init__(self, github: GitHubApp, trigger: Trigger) -> None:
        self._github = github
        self._where = (trigger.installation_id, trigger.owner, trigger.name)

    async def create(
        self, *, head_sha: str, status: str, title: str, summary: str, external_id: str
    ) -> int:
        async with await self._github.repo(*self._where) as gh:
            return await gh.start_check_run(
                head_sha=head_sha,
                name=CHECK_NAME,
                status=status,
                title=title,
                summary=summary,
                external_id=external_id,
            )

    async def find(self, *, head_sha: str, external_id: str) -> int | None:
        """The Baton check run this app made for run `external_id` on `head_sha`, if any."""
        async with await self._github.repo(*self._where) as gh:
            runs = await gh.check_runs(head_sha)
        return next(
            (r.id for r in runs if r.name == CHECK_NAME and r.external_id == external_id), None
        )

    async def update(
        self, check_id: int, *, status: str, conclusion: str | None, title: str, summary: str
    ) -> None:
        async with await self._github.repo(*self._where) as gh:
            await gh.update_check_run(
                check_id, status=status, conclusion=conclusion, title=title, summary=summary
            )
