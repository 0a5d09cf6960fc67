"""Calls on a repository's pull requests, their review comments and the check runs of a ref."""

from __future__ import annotations

from typing import Any

from bot.gh.base import RepoClient
from bot.gh.calls import PER_PAGE, call, paged, read_json
from bot.gh.models import CheckRunInfo, PullRequest, ReviewComment

# GitHub refuses a check run summary over 65,535 characters; this cut leaves a margin.
SUMMARY_MAX = 65000
# GitHub's REST API cannot change a pull request's draft state (`PATCH /pulls/{n}` takes no
# `draft`): its GraphQL API is the only way, and these two mutations the only GraphQL Baton sends.
_READY = """mutation($id: ID!) {
  markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { number isDraft } }
}"""
_TO_DRAFT = """mutation($id: ID!) {
  convertPullRequestToDraft(input: {pullRequestId: $id}) { pullRequest { number isDraft } }
}"""


class PullCalls(RepoClient):
    """Pull requests and checks; every text written passes the outbound secret scan."""

    async def find_pull(self, branch: str) -> PullRequest | None:
        resp = await call(
            "find the pull request",
            lambda: self._gh.rest.pulls.async_list(
                self.owner, self.name, state="open", head=f"{self.owner}:{branch}"
            ),
        )
        pulls = [PullRequest.from_json(p) for p in read_json(resp)]
        return next((p for p in pulls if p.head_ref == branch), None)

    async def create_pull(
        self, *, title: str, head: str, base: str, body: str, draft: bool
    ) -> PullRequest:
        title = self._out.check(title, "pull request title")
        body = self._out.check(body, "pull request body")
        resp = await call(
            "open the pull request",
            lambda: self._gh.rest.pulls.async_create(
                self.owner, self.name, title=title, head=head, base=base, body=body, draft=draft
            ),
        )
        return PullRequest.from_json(read_json(resp))

    async def update_pull(self, number: int, *, body: str) -> PullRequest:
        body = self._out.check(body, "pull request body")
        resp = await call(
            "update the pull request",
            lambda: self._gh.rest.pulls.async_update(self.owner, self.name, number, body=body),
        )
        return PullRequest.from_json(read_json(resp))

    async def set_draft(self, pr: PullRequest, *, draft: bool) -> bool:
        """Make `pr` a draft, or ready for review; whether it is a draft now."""
        query, name = (
            (_TO_DRAFT, "convertPullRequestToDraft")
            if draft
            else (_READY, "markPullRequestReadyForReview")
        )
        what = "convert the pull request to a draft" if draft else "mark it ready for review"
        data = await call(what, lambda: self._gh.async_graphql(query, {"id": pr.node_id}))
        return bool(data[name]["pullRequest"]["isDraft"])

    async def get_pull(self, number: int) -> PullRequest:
        resp = await call(
            "read the pull request",
            lambda: self._gh.rest.pulls.async_get(self.owner, self.name, number),
        )
        return PullRequest.from_json(read_json(resp))

    async def review_comments(self, number: int) -> list[ReviewComment]:
        items = await paged(
            "read review comments",
            lambda p: self._gh.rest.pulls.async_list_review_comments(
                self.owner, self.name, number, per_page=PER_PAGE, page=p
            ),
        )
        return [ReviewComment.from_json(c) for c in items]

    async def check_runs(self, ref: str) -> list[CheckRunInfo]:
        runs = await paged(
            "read check runs",
            lambda p: self._gh.rest.checks.async_list_for_ref(
                self.owner, self.name, ref, per_page=PER_PAGE, page=p
            ),
            lambda body: list(body.get("check_runs", [])),
        )
        return [CheckRunInfo.from_json(c) for c in runs]

    async def create_check_run(
        self,
        *,
        head_sha: str,
        name: str,
        conclusion: str,
        title: str,
        summary: str,
        external_id: str,
        details_url: str | None = None,
    ) -> int:
        output: dict[str, Any] = {
            "title": self._out.check(title, "check run title"),
            "summary": self._out.check(summary[:SUMMARY_MAX], "check run summary"),
        }
        data: Any = {
            "name": name,
            "head_sha": head_sha,
            "status": "completed",
            "conclusion": conclusion,
            "external_id": external_id,
            "output": output,
        }
        if details_url:
            data["details_url"] = details_url
        resp = await call(
            "create the check run",
            lambda: self._gh.rest.checks.async_create(self.owner, self.name, data=data),
        )
        return int(read_json(resp)["id"])

    async def start_check_run(
        self, *, head_sha: str, name: str, status: str, title: str, summary: str, external_id: str
    ) -> int:
        """A check run that is not done yet (`queued` or `in_progress`); its id."""
        data: Any = {
            "name": name,
            "head_sha": head_sha,
            "status": status,
            "external_id": external_id,
            "output": self._check_output(title, summary),
        }
        resp = await call(
            "create the check run",
            lambda: self._gh.rest.checks.async_create(self.owner, self.name, data=data),
        )
        return int(read_json(resp)["id"])

    async def update_check_run(
        self, check_id: int, *, status: str, conclusion: str | None, title: str, summary: str
    ) -> None:
        """Move a check run on: its status, its conclusion once `completed`, its text."""
        data: Any = {"status": status, "output": self._check_output(title, summary)}
        if conclusion is not None:
            data["conclusion"] = conclusion
        await call(
            "update the check run",
            lambda: self._gh.rest.checks.async_update(self.owner, self.name, check_id, data=data),
        )

    def _check_output(self, title: str, summary: str) -> dict[str, Any]:
        return {
            "title": self._out.check(title, "check run title"),
            "summary": self._out.check(summary[:SUMMARY_MAX], "check run summary"),
        }
