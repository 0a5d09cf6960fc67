"""The shape of every request: brief retries, errors translated, JSON read raw, pages walked."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from githubkit.exception import GitHubException, RateLimitExceeded, RequestFailed
from githubkit.retry import RetryOption

from bot.gh.errors import translate

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from githubkit import Response

PER_PAGE = 100
MAX_PAGES = 10  # 1,000 items: more than any PR a person reviews, and a bound on API calls

_T = TypeVar("_T")


def capped_retry(exc: GitHubException, attempt: int) -> RetryOption:
    """Retry inside a request only briefly: long waits belong to the job queue's backoff."""
    if isinstance(exc, RateLimitExceeded):
        ok = attempt < 1 and exc.retry_after <= timedelta(seconds=10)
        return RetryOption(do_retry=ok, retry_after=exc.retry_after if ok else None)
    if isinstance(exc, RequestFailed) and exc.response.status_code >= 500 and attempt < 2:
        return RetryOption(do_retry=True, retry_after=timedelta(seconds=0.5 * 2**attempt))
    return RetryOption(do_retry=False)


def read_json(resp: Response[Any, Any]) -> Any:
    """The response's JSON, untyped: read into our own tolerant values by the caller."""
    return json.loads(resp.content)


async def call(what: str, fn: Callable[[], Awaitable[_T]]) -> _T:
    """Make one request; a refusal is raised as a `GitHubError` that says `what` failed."""
    try:
        return await fn()
    except GitHubException as exc:
        raise translate(exc, what) from exc


async def paged(
    what: str,
    fetch: Callable[[int], Awaitable[Response[Any, Any]]],
    items: Callable[[Any], list[dict[str, Any]]] = list,
) -> list[dict[str, Any]]:
    """Every item of a listing, page by page until a short page (or MAX_PAGES)."""
    out: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        batch = items(read_json(await call(what, lambda p=page: fetch(p))))  # type: ignore[misc]
        out.extend(batch)
        if len(batch) < PER_PAGE:
            break
    return out
