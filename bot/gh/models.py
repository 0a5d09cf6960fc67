"""Small tolerant values read from GitHub's JSON (githubkit's strict models reject some of it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]


@dataclass(frozen=True, slots=True)
class InstallationToken:
    value: SecretStr
    expires_at: float  # epoch seconds
    installation_id: int = 0  # whose token (0: unknown); its rate limit is that installation's


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int
    html_url: str
    head_ref: str
    head_sha: str
    base_ref: str
    state: str
    body: str
    draft: bool
    title: str = ""
    head_repo: str = ""  # owner/name the head branch lives in (another one for a fork)
    node_id: str = ""  # its GraphQL id (the draft state can be changed only through GraphQL)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PullRequest:
        head_repo = (data["head"].get("repo") or {}).get("full_name") or ""
        return cls(
            number=int(data["number"]),
            html_url=str(data.get("html_url", "")),
            head_ref=str(data["head"]["ref"]),
            head_sha=str(data["head"]["sha"]),
            base_ref=str(data["base"]["ref"]),
            state=str(data.get("state", "open")),
            body=str(data.get("body") or ""),
            draft=bool(data.get("draft", False)),
            title=str(data.get("title") or ""),
            head_repo=str(head_repo),
            node_id=str(data.get("node_id") or ""),
        )


@dataclass(frozen=True, slots=True)
class ReviewComment:
    id: int
    author: str
    path: str
    line: int | None  # None once the comment is outdated (its line left the diff)
    body: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReviewComment:
        return cls(
            id=int(data["id"]),
            author=str((data.get("user") or {}).get("login") or ""),
            path=str(data.get("path") or ""),
            line=data.get("line") if isinstance(data.get("line"), int) else None,
            body=str(data.get("body") or ""),
        )


@dataclass(frozen=True, slots=True)
class CheckRunInfo:
    name: str
    status: str
    conclusion: str | None
    title: str
    summary: str
    text: str
    app_slug: str
    id: int = 0
    external_id: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckRunInfo:
        output = data.get("output") or {}
        return cls(
            name=str(data.get("name") or ""),
            status=str(data.get("status") or ""),
            conclusion=data.get("conclusion"),
            title=str(output.get("title") or ""),
            summary=str(output.get("summary") or ""),
            text=str(output.get("text") or ""),
            app_slug=str((data.get("app") or {}).get("slug") or ""),
            id=int(data.get("id") or 0),
            external_id=str(data.get("external_id") or ""),
        )


@dataclass(frozen=True, slots=True)
class IssueComment:
    id: int
    body: str
    author: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssueComment:
        return cls(int(data["id"]), str(data["body"]), str(data["user"]["login"]))


@dataclass(frozen=True, slots=True)
class IssueText:
    """An issue's own words: the task a PR made for it continues to serve."""

    number: int
    title: str
    body: str
    author: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssueText:
        return cls(
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            author=str((data.get("user") or {}).get("login") or ""),
        )
