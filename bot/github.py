"""The one module that talks to GitHub's REST API (githubkit underneath, tolerant reads on top).

Responses are read with `.json()` into small values rather than githubkit's strict models, which
reject some of GitHub's real responses; requests go through githubkit's typed methods.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

import httpx
from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)
from githubkit.retry import RetryOption
from pydantic import SecretStr

from bot.outbound import Outbound

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from githubkit import Response
    from githubkit.cache import BaseCacheStrategy

log = logging.getLogger(__name__)

# Refresh a cached installation token when less than this is left: a push follows at once.
TOKEN_MARGIN_S = 600.0
REPO_PERMISSIONS: dict[str, str] = {
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
    "checks": "write",
    "metadata": "read",
}
Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
# How GitHub refuses a reaction: its comment or issue was deleted (404, 410), the issue is
# locked or the app may not react there (403), or the reaction is not accepted (422).
REACTION_REFUSED = frozenset({403, 404, 410, 422})


class GitHubError(Exception):
    """GitHub refused a request; `status` is its HTTP status (None when no response came)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubUnavailable(GitHubError):
    """A transient failure (5xx, timeout, connection, rate limit): the job is retried later."""


class NotFound(GitHubError):
    pass


def capped_retry(exc: GitHubException, attempt: int) -> RetryOption:
    """Retry inside a request only briefly: long waits belong to the job queue's backoff."""
    if isinstance(exc, RateLimitExceeded):
        ok = attempt < 1 and exc.retry_after <= timedelta(seconds=10)
        return RetryOption(do_retry=ok, retry_after=exc.retry_after if ok else None)
    if isinstance(exc, RequestFailed) and exc.response.status_code >= 500 and attempt < 2:
        return RetryOption(do_retry=True, retry_after=timedelta(seconds=0.5 * 2**attempt))
    return RetryOption(do_retry=False)


def _translate(exc: GitHubException, what: str) -> GitHubError:
    if isinstance(exc, RateLimitExceeded):
        return GitHubUnavailable(f"{what}: GitHub rate limit", status=exc.response.status_code)
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        message = ""
        try:
            body = exc.response.json()
            if isinstance(body, dict):
                message = str(body.get("message", ""))
        except ValueError:
            message = ""
        text = f"{what}: GitHub answered {status}" + (f" ({message})" if message else "")
        if status >= 500:
            return GitHubUnavailable(text, status=status)
        if status == 404:
            return NotFound(text, status=status)
        return GitHubError(text, status=status)
    if isinstance(exc, RequestTimeout):
        return GitHubUnavailable(f"{what}: GitHub did not answer in time")
    if isinstance(exc, RequestError):
        return GitHubUnavailable(f"{what}: GitHub could not be reached")
    return GitHubError(f"{what}: {type(exc).__name__}")


_T = TypeVar("_T")


def _body(resp: Response[Any, Any]) -> Any:
    """The response's JSON, untyped: read into our own tolerant values by the caller."""
    return json.loads(resp.content)


async def _call(what: str, fn: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return await fn()
    except GitHubException as exc:
        raise _translate(exc, what) from exc


PER_PAGE = 100
MAX_PAGES = 10  # 1,000 items: more than any PR a person reviews, and a bound on API calls


async def _paged(
    what: str,
    fetch: Callable[[int], Awaitable[Response[Any, Any]]],
    items: Callable[[Any], list[dict[str, Any]]] = list,
) -> list[dict[str, Any]]:
    """Every item of a listing, page by page until a short page (or MAX_PAGES)."""
    out: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        batch = items(_body(await _call(what, lambda p=page: fetch(p))))  # type: ignore[misc]
        out.extend(batch)
        if len(batch) < PER_PAGE:
            break
    return out


@dataclass(frozen=True, slots=True)
class InstallationToken:
    value: SecretStr
    expires_at: float  # epoch seconds


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
        )


@dataclass(frozen=True, slots=True)
class ReviewComment:
    id: int
    author: str
    path: str
    line: int | None  # None once the comment is outdated (its line left the diff)
    body: str


@dataclass(frozen=True, slots=True)
class CheckRunInfo:
    name: str
    status: str
    conclusion: str | None
    title: str
    summary: str
    text: str
    app_slug: str


@dataclass(frozen=True, slots=True)
class IssueComment:
    id: int
    body: str
    author: str


@dataclass(frozen=True, slots=True)
class IssueText:
    """An issue's own words: the task a PR made for it continues to serve."""

    number: int
    title: str
    body: str
    author: str


class GitHubApp:
    """Process-wide: the app's JWT client, the HTTP cache and the installation-token cache."""

    def __init__(
        self,
        *,
        app_id: str,
        private_key: str,
        base_url: str,
        auto_retry: bool = True,
        timeout_s: float = 20.0,
        cache_strategy: BaseCacheStrategy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        outbound: Outbound | None = None,
    ) -> None:
        self.base_url = base_url
        self.outbound = outbound or Outbound()
        # One cache per app object (never githubkit's module-global default), shared by every
        # per-job client so ETags survive across runs: an unchanged config file costs a 304.
        self._cache = cache_strategy or MemCacheStrategy()
        self._retry: Any = capped_retry if auto_retry else False
        self._timeout = timeout_s
        self._transport = transport
        # One TLS context for every client: building one loads the CA bundle (~25 ms of CPU on
        # the event loop), and githubkit builds a client per call made outside `async with`.
        self._ssl = httpx.create_ssl_context()
        self._app = GitHub(
            AppAuthStrategy(app_id, private_key),
            base_url=base_url,
            timeout=timeout_s,
            cache_strategy=self._cache,
            auto_retry=self._retry,
            async_transport=transport,
            ssl_verify=self._ssl,
        )
        self._tokens: dict[tuple[int, tuple[str, ...], str], InstallationToken] = {}
        self._token_locks: dict[tuple[int, tuple[str, ...], str], asyncio.Lock] = {}

    async def token(
        self, installation_id: int, repositories: tuple[str, ...], *, read_only: bool = False
    ) -> InstallationToken:
        """A token scoped to these repositories, minted with the app JWT and cached until near
        expiry; it is used for REST calls and, outside any sandbox, for `git push`."""
        mode = "read" if read_only else "write"
        key = (installation_id, repositories, mode)
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached is not None and cached.expires_at - time.time() > TOKEN_MARGIN_S:
                return cached
            permissions: Any = (
                {"contents": "read", "metadata": "read"} if read_only else REPO_PERMISSIONS
            )
            resp = await _call(
                "mint an installation token",
                lambda: self._app.rest.apps.async_create_installation_access_token(
                    installation_id, repositories=list(repositories), permissions=permissions
                ),
            )
            data = _body(resp)
            expires = datetime.fromisoformat(str(data["expires_at"]))
            token = InstallationToken(SecretStr(str(data["token"])), expires.timestamp())
            self._tokens[key] = token
            return token

    def client(self, token: InstallationToken) -> GitHub[TokenAuthStrategy]:
        return GitHub(
            TokenAuthStrategy(token.value.get_secret_value()),
            base_url=self.base_url,
            timeout=self._timeout,
            cache_strategy=self._cache,
            auto_retry=self._retry,
            async_transport=self._transport,
            ssl_verify=self._ssl,
        )

    async def repo(self, installation_id: int, owner: str, name: str) -> RepoGitHub:
        token = await self.token(installation_id, (name,))
        return RepoGitHub(self.client(token), owner=owner, name=name, outbound=self.outbound)

    async def read_settings_file(
        self, installation_id: int, owner: str, repo: str, path: str
    ) -> str | None:
        """A file of the org's settings repo, or None when the repo or file is not there or the
        app is not installed on it (the org then simply has no org-wide config)."""
        try:
            token = await self.token(installation_id, (repo,), read_only=True)
        except GitHubError as exc:
            if isinstance(exc, GitHubUnavailable):
                raise
            log.info("settings repo %s/%s not readable by the installation: %s", owner, repo, exc)
            return None
        async with RepoGitHub(self.client(token), owner=owner, name=repo,
                              outbound=self.outbound) as gh:  # fmt: skip
            return await gh.read_file(path)


class RepoGitHub:
    """REST calls on one repository with one installation token (used inside `async with`)."""

    def __init__(
        self,
        gh: GitHub[TokenAuthStrategy],
        *,
        owner: str,
        name: str,
        outbound: Outbound | None = None,
    ) -> None:
        self._gh = gh
        self.owner = owner
        self.name = name
        # Every text this client sends passes the secret scan: the last wall before GitHub.
        self._out = outbound or Outbound()

    async def __aenter__(self) -> Self:
        await self._gh.__aenter__()  # type: ignore[no-untyped-call]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._gh.__aexit__(None, None, None)

    async def permission(self, login: str) -> str:
        """The user's effective permission on the repo (admin|write|read|none), from GitHub."""
        try:
            resp = await _call(
                "check permission",
                lambda: self._gh.rest.repos.async_get_collaborator_permission_level(
                    self.owner, self.name, login
                ),
            )
        except NotFound:
            return "none"
        data = _body(resp)
        role = str(data.get("role_name") or "")
        # maintain and triage are reported as write and read; role_name keeps the finer grain.
        return role if role in {"maintain", "triage"} else str(data.get("permission", "none"))

    async def read_file(self, path: str, ref: str | None = None) -> str | None:
        """A file's text on `ref` (default branch when None); None if absent. ETag-cached."""
        kwargs: dict[str, Any] = {"ref": ref} if ref else {}
        try:
            resp = await _call(
                f"read {path}",
                lambda: self._gh.rest.repos.async_get_content(
                    self.owner, self.name, path, **kwargs
                ),
            )
        except NotFound:
            return None
        data = _body(resp)
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        return base64.b64decode(str(data.get("content", ""))).decode("utf-8", "replace")

    async def _react(self, what: str, fn: Callable[[], Awaitable[object]]) -> bool:
        """A reaction is a courtesy: one GitHub refuses is logged and skipped (False), so it
        never fails a run or stops a reply. A transient failure is still raised: the job's
        next call would meet it too, and the queue retries the job."""
        try:
            await _call(what, fn)
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
        resp = await _call(
            "comment",
            lambda: self._gh.rest.issues.async_create_comment(
                self.owner, self.name, number, body=body
            ),
        )
        return int(_body(resp)["id"])

    async def edit_comment(self, comment_id: int, body: str) -> None:
        body = self._out.check(body, "comment")
        await _call(
            "edit a comment",
            lambda: self._gh.rest.issues.async_update_comment(
                self.owner, self.name, comment_id, body=body
            ),
        )

    async def find_comment(self, number: int, marker: str) -> IssueComment | None:
        """The newest comment on the issue whose body holds `marker` (Baton's hidden markers)."""
        items = await _paged(
            "list comments",
            lambda p: self._gh.rest.issues.async_list_comments(
                self.owner, self.name, number, per_page=PER_PAGE, page=p
            ),
        )
        found: IssueComment | None = None
        for item in items:
            if marker in str(item.get("body") or ""):
                found = IssueComment(int(item["id"]), str(item["body"]), str(item["user"]["login"]))
        return found

    async def remove_label(self, number: int, label: str) -> bool:
        try:
            await _call(
                "remove the trigger label",
                lambda: self._gh.rest.issues.async_remove_label(
                    self.owner, self.name, number, label
                ),
            )
        except NotFound:
            return False
        return True

    async def find_pull(self, branch: str) -> PullRequest | None:
        resp = await _call(
            "find the pull request",
            lambda: self._gh.rest.pulls.async_list(
                self.owner, self.name, state="open", head=f"{self.owner}:{branch}"
            ),
        )
        pulls = [PullRequest.from_json(p) for p in _body(resp)]
        return next((p for p in pulls if p.head_ref == branch), None)

    async def create_pull(
        self, *, title: str, head: str, base: str, body: str, draft: bool
    ) -> PullRequest:
        title = self._out.check(title, "pull request title")
        body = self._out.check(body, "pull request body")
        resp = await _call(
            "open the pull request",
            lambda: self._gh.rest.pulls.async_create(
                self.owner, self.name, title=title, head=head, base=base, body=body, draft=draft
            ),
        )
        return PullRequest.from_json(_body(resp))

    async def update_pull(self, number: int, *, body: str) -> PullRequest:
        body = self._out.check(body, "pull request body")
        resp = await _call(
            "update the pull request",
            lambda: self._gh.rest.pulls.async_update(self.owner, self.name, number, body=body),
        )
        return PullRequest.from_json(_body(resp))

    async def get_issue(self, number: int) -> IssueText:
        resp = await _call(
            "read the issue",
            lambda: self._gh.rest.issues.async_get(self.owner, self.name, number),
        )
        data = _body(resp)
        return IssueText(
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            author=str((data.get("user") or {}).get("login") or ""),
        )

    async def get_pull(self, number: int) -> PullRequest:
        resp = await _call(
            "read the pull request",
            lambda: self._gh.rest.pulls.async_get(self.owner, self.name, number),
        )
        return PullRequest.from_json(_body(resp))

    async def review_comments(self, number: int) -> list[ReviewComment]:
        items = await _paged(
            "read review comments",
            lambda p: self._gh.rest.pulls.async_list_review_comments(
                self.owner, self.name, number, per_page=PER_PAGE, page=p
            ),
        )
        return [
            ReviewComment(
                id=int(c["id"]),
                author=str((c.get("user") or {}).get("login") or ""),
                path=str(c.get("path") or ""),
                line=c.get("line") if isinstance(c.get("line"), int) else None,
                body=str(c.get("body") or ""),
            )
            for c in items
        ]

    async def check_runs(self, ref: str) -> list[CheckRunInfo]:
        runs = await _paged(
            "read check runs",
            lambda p: self._gh.rest.checks.async_list_for_ref(
                self.owner, self.name, ref, per_page=PER_PAGE, page=p
            ),
            lambda body: list(body.get("check_runs", [])),
        )
        out = []
        for c in runs:
            output = c.get("output") or {}
            out.append(
                CheckRunInfo(
                    name=str(c.get("name") or ""),
                    status=str(c.get("status") or ""),
                    conclusion=c.get("conclusion"),
                    title=str(output.get("title") or ""),
                    summary=str(output.get("summary") or ""),
                    text=str(output.get("text") or ""),
                    app_slug=str((c.get("app") or {}).get("slug") or ""),
                )
            )
        return out

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
            "summary": self._out.check(summary[:65000], "check run summary"),
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
        resp = await _call(
            "create the check run",
            lambda: self._gh.rest.checks.async_create(self.owner, self.name, data=data),
        )
        return int(_body(resp)["id"])
