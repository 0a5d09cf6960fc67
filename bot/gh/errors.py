"""How GitHub refuses a request, as Baton's exceptions (githubkit's translated at the edge)."""

from __future__ import annotations

from githubkit.exception import (
    GitHubException,
    GraphQLFailed,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)

from config.errors import BatonError


class GitHubError(BatonError):
    """GitHub refused a request; `status` is its HTTP status (None when no response came)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubUnavailable(GitHubError):
    """A transient failure (5xx, timeout, connection, rate limit): the job is retried later."""


class NotFound(GitHubError):
    pass


def translate(exc: GitHubException, what: str) -> GitHubError:
    """githubkit's exception as ours, its message naming what was being done."""
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
    if isinstance(exc, GraphQLFailed):
        errors = exc.response.errors or []
        message = "; ".join(e.message for e in errors) or "no reason given"
        return GitHubError(f"{what}: GitHub's GraphQL API refused it ({message})")
    if isinstance(exc, RequestTimeout):
        return GitHubUnavailable(f"{what}: GitHub did not answer in time")
    if isinstance(exc, RequestError):
        return GitHubUnavailable(f"{what}: GitHub could not be reached")
    return GitHubError(f"{what}: {type(exc).__name__}")
