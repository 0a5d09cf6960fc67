"""Every request Baton makes to GitHub's API passes here on its way: counted by method and
status, with the rate limit GitHub reports (per installation: each has its own), into the
process's tally."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from bot.telemetry.tally import Tally


# Whose rate limit a request spends when it is no installation's: the App's own (its JWT).
APP = "app"


class MeteredTransport(httpx.AsyncBaseTransport):
    """Wraps the transport GitHub clients share. githubkit closes a client's transport when the
    client closes, so closing this one does nothing: the owner closes `inner` at shutdown."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tally: Tally, *, whose: str = APP) -> None:
        self.inner = inner
        self._tally = tally
        self._whose = whose
        self._installations: dict[int, MeteredTransport] = {}

    def for_installation(self, installation_id: int) -> MeteredTransport:
        """The same transport, its rate limit counted as this installation's (one per id)."""
        found = self._installations.get(installation_id)
        if found is None:
            found = MeteredTransport(self.inner, self._tally, whose=str(installation_id))
            self._installations[installation_id] = found
        return found

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.HTTPError:
            self._tally.github_call(
                method=request.method,
                status="error",
                resource="",
                installation=self._whose,
                remaining=None,
            )
            raise
        remaining = response.headers.get("x-ratelimit-remaining")
        self._tally.github_call(
            method=request.method,
            status=str(response.status_code),
            resource=response.headers.get("x-ratelimit-resource", "core"),
            installation=self._whose,
            remaining=int(remaining) if remaining and remaining.isdigit() else None,
        )
        return response

    async def aclose(self) -> None:
        return None
