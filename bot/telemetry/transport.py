"""Every request Baton makes to GitHub's API passes here on its way: counted by method and
status, with the rate limit GitHub reports, into the process's tally."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from bot.telemetry.tally import Tally


class MeteredTransport(httpx.AsyncBaseTransport):
    """Wraps the transport GitHub clients share. githubkit closes a client's transport when the
    client closes, so closing this one does nothing: the owner closes `inner` at shutdown."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tally: Tally) -> None:
        self.inner = inner
        self._tally = tally

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.HTTPError:
            self._tally.github_call(
                method=request.method, status="error", resource="", remaining=None
            )
            raise
        remaining = response.headers.get("x-ratelimit-remaining")
        self._tally.github_call(
            method=request.method,
            status=str(response.status_code),
            resource=response.headers.get("x-ratelimit-resource", "core"),
            remaining=int(remaining) if remaining and remaining.isdigit() else None,
        )
        return response

    async def aclose(self) -> None:
        return None
