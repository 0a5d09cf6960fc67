"""Calls on a repository's issues: reactions, comments (Baton's own found by marker), labels."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.gh.base import RepoClient
from bot.gh.calls import PER_PAGE, call, paged, read_json
from bot.gh.errors import GitHubError, GitHubUnavailable, NotFound
from bot.gh.models import IssueComment, IssueText, Reaction

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# How GitHub refuses a reaction: its comment or issue was deleted (404, 410), the issue is
# locked or the app may not react there (403), or the reaction is not accepted (422).
REACTION_REFUSED = frozenset({403, 404, 410, 422})


class IssueCalls(RepoClient):
    """Issues and their comments; every text written passes the outbound secret scan."""

    async def _react(self, what: str, fn: Callable[[], Awaitable[object]]) -> bool:
        """A reaction is a courtesy: one GitHub refuses is logged and skipped (False), so it
        never fails a run or stops a reply. A transient failure is still raised: the job's
        next call would meet it too, and the queue retries the job."""
        try:
            await call(what, fn)
        except GitHubError as exc:
            if isinstance(exc, GitHubUnavailable) or exc.status not in REACTION_REFUSED:
                raise
            log.info("%s/%s: reaction skipped: %s", self.owner, self.name, exc)
            return False
        return True

    async def react_issue(self, number: int, content: Reaction) -> bool:
        """React on an issue or PR; False when GitHub refused (see `_react`)."""
        return await self._react(
            f"react on #{number}",
            lambda: self._gh.rest.reactions.async_create_for_issue(
                self.owner, self.name, number, content=content
            ),
        )

    async def react_comment(
        self, comment_id: int, content: Reaction, *, review: bool = False
    ) -> bool:
        """React on an issue comment, or a PR review comment; False when GitHub refused."""
        reactions = self._gh.rest.reactions
        create = (
            reactions.async_create_for_pull_request_review_comment
            if review
            else reactions.async_create_for_issue_comment
        )
        return await self._react(
            f"react on comment {comment_id}",
            lambda: create(self.owner, self.name, comment_id, content=content),
        )

    async def comment(self, number: int, body: str) -> int:
        body = self._out.check(body, "comment")
        resp = await call(
            "comment",
            lambda: self._gh.rest.issues.async_create_comment(
                self.owner, self.name, number, body=body
            ),
        )
        return int(read_json(resp)["id"])

    async def edit_comment(self, comment_id: int, body: str) -> None:
        body = self._out.check(body, "comment")
        await call(
            "edit a comment",
            lambda: self._gh.rest.issues.async_update_comment(
                self.owner, self.name, comment_id, body=body
            ),
        )

    async def find_comment(self, number: int, marker: str) -> IssueComment | None:
        """The newest comment on the issue whose body holds `marker` (Baton's hidden markers)."""
        items = await paged(
            "list comments",
            lambda p: self._gh.rest.issues.async_list_comments(
                self.owner, self.name, number, per_page=PER_PAGE, page=p
            ),
        )
        found: IssueComment | None = None
        for item in items:
            if marker in str(item.get("body") or ""):
                found = IssueComment.from_json(item)
        return found

    async def remove_label(self, number: int, label: str) -> bool:
        try:
            await call(
                "remove the trigger label",
                lambda: self._gh.rest.issues.async_remove_label(
                    self.owner, self.name, number, label
                ),
            )
        except NotFound:
            return False
        return True

    async def get_issue(self, number: int) -> IssueText:
        resp = await call(
            "read the issue",
            lambda: self._gh.rest.issues.async_get(self.owner, self.name, number),
        )
        return IssueText.from_json(read_json(resp))
