"""Small tolerant models of the webhook payloads Baton routes on (only the fields it reads).

githubkit's strict models reject a third of GitHub's own example payloads; these ignore what they
do not need, so a new or missing optional field never turns a delivery into an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class User(_Tolerant):
    login: str
    id: int = 0
    type: str = "User"

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot" or self.login.endswith("[bot]")


class Label(_Tolerant):
    name: str


class Owner(_Tolerant):
    login: str
    type: str = "User"


class Repository(_Tolerant):
    full_name: str
    name: str
    owner: Owner
    clone_url: str
    html_url: str = ""
    default_branch: str = "main"
    private: bool = False


class Installation(_Tolerant):
    id: int


class Issue(_Tolerant):
    number: int
    title: str = ""
    body: str | None = None
    state: str = "open"
    user: User
    labels: list[Label] = Field(default_factory=list)
    html_url: str = ""
    # Present (a mapping) only when the issue is a pull request.
    pull_request: dict[str, Any] | None = None

    @property
    def is_pull_request(self) -> bool:
        return bool(self.pull_request)


class Comment(_Tolerant):
    id: int
    body: str = ""
    user: User
    html_url: str = ""
    performed_via_github_app: dict[str, Any] | None = None


class _RepoEvent(_Tolerant):
    action: str = ""
    repository: Repository
    sender: User
    installation: Installation | None = None


class IssuesEvent(_RepoEvent):
    issue: Issue
    label: Label | None = None


class IssueCommentEvent(_RepoEvent):
    issue: Issue
    comment: Comment


class PullRequestRef(_Tolerant):
    number: int
    title: str = ""
    body: str | None = None
    state: str = "open"
    user: User
    html_url: str = ""


class ReviewCommentEvent(_RepoEvent):
    pull_request: PullRequestRef
    comment: Comment
