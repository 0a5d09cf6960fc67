"""The emulator's in-memory records: accounts, apps, tokens, callers, repositories, issues."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

AccountType = Literal["User", "Organization", "Bot"]
Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
# What each role may do, as GitHub reports it in `permissions` and in the permission API.
RANK: dict[str, int] = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
DEFAULT_APP_PERMISSIONS: dict[str, str] = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
}
DEFAULT_APP_EVENTS = (
    "issues",
    "issue_comment",
    "pull_request",
    "pull_request_review_comment",
    "pull_request_review",
    "check_suite",
)


def iso(ts: float) -> str:
    """GitHub's timestamp format: UTC, seconds, a trailing Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class Account:
    id: int
    login: str
    type: AccountType
    created_at: float
    members: set[str] = field(default_factory=set)  # organizations only


@dataclass
class App:
    id: int
    slug: str
    name: str
    public_key_pem: str
    webhook_url: str | None
    owner: str
    bot: Account
    created_at: float
    hook_id: int
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_APP_PERMISSIONS))
    events: tuple[str, ...] = DEFAULT_APP_EVENTS
    # An app registered from a manifest has its own webhook secret and OAuth client; the others
    # sign with the emulator's secret and get a client id made from their id.
    webhook_secret: bytes | None = None
    client_id: str = ""
    client_secret: str = ""
    public: bool = True
    description: str | None = None
    homepage: str = ""
    callback_urls: tuple[str, ...] = ()
    setup_url: str = ""

    @property
    def oauth_client_id(self) -> str:
        # As `hub_oauth.client_id_of` makes them for apps registered without a manifest.
        return self.client_id or f"Iv23.localhub{self.id}"


@dataclass(frozen=True, slots=True)
class PendingApp:
    """An app registered from a manifest whose credentials wait for the conversion call."""

    app_id: int
    pem: str
    expires_at: float


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    created_at: float
    suspended_at: float | None = None
    # Lower-cased names of the account's repositories taken out of the installation.
    removed: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    installation_id: int
    expires_at: float
    repositories: frozenset[str] | None  # repository names; None = every repo of the account
    permissions: dict[str, str]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an app (its JWT), an installation (a token), a user, or nobody."""

    kind: Literal["anonymous", "user", "installation", "app"]
    login: str | None = None  # the user, or the app's bot user for an installation
    app_id: int | None = None
    token: Token | None = None

    @property
    def installation_id(self) -> int | None:
        return self.token.installation_id if self.token is not None else None

    @property
    def rate_key(self) -> str:
        if self.token is not None:
            return f"installation:{self.token.installation_id}"
        if self.kind == "app":
            return f"app:{self.app_id}"
        return f"user:{self.login}" if self.login else "anonymous"


ANONYMOUS = Principal(kind="anonymous")


@dataclass
class Label:
    id: int
    name: str
    color: str
    description: str | None
    default: bool = False


@dataclass
class Reaction:
    id: int
    user: str
    content: str
    created_at: float


@dataclass
class Comment:
    id: int
    number: int
    user: str
    body: str
    created_at: float
    updated_at: float
    app_id: int | None
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class ReviewComment:
    id: int
    number: int
    user: str
    body: str
    path: str
    line: int | None
    side: str
    commit_id: str
    diff_hunk: str
    created_at: float
    updated_at: float
    in_reply_to: int | None
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Pull:
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    draft: bool
    merged: bool = False
    merged_at: float | None = None
    # The fork (owner/name) the head branch lives in; None when it is this repository's own.
    head_repo: str | None = None
    merged_by: str | None = None
    merge_sha: str | None = None


@dataclass
class Issue:
    id: int
    number: int
    title: str
    body: str | None
    user: str
    created_at: float
    updated_at: float
    app_id: int | None
    state: Literal["open", "closed"] = "open"
    state_reason: str | None = None
    closed_at: float | None = None
    labels: list[str] = field(default_factory=list)
    comments: list[int] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    pull: Pull | None = None
    pull_id: int = 0


@dataclass
class CheckRun:
    id: int
    app_id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: float
    completed_at: float | None
    external_id: str | None
    details_url: str | None
    output: dict[str, str | None] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    suite_id: int = 0  # the check suite of its app and commit (bot/localhub/suites.py)
    # Every state the run was in, as its creation and each update left it (for tests).
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CheckSuite:
    """One app's checks of one commit: completed once all its check runs are."""

    id: int
    app_id: int
    head_sha: str
    head_branch: str | None
    status: str
    conclusion: str | None
    created_at: float
    updated_at: float


@dataclass
class Review:
    id: int
    number: int
    user: str
    body: str | None
    state: str  # APPROVED, CHANGES_REQUESTED or COMMENTED
    commit_id: str
    submitted_at: float


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    private: bool
    description: str | None
    default_branch: str
    path: Path
    created_at: float
    pushed_at: float
    collaborators: dict[str, str] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)  # lower-cased name -> label
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    review_comments: dict[int, ReviewComment] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    parent: str | None = None  # owner/name of the repository this one is a fork of
    check_suites: dict[int, CheckSuite] = field(default_factory=dict)
    reviews: dict[int, Review] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def next_number(self) -> int:
        return max(self.issues, default=0) + 1
