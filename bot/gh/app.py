"""`GitHubApp`: the app's own identity (JWT), installation tokens, clients and settings reads."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy, UnauthAuthStrategy
from githubkit.cache import MemCacheStrategy
from pydantic import SecretStr

from bot.gh.calls import call, capped_retry, read_json
from bot.gh.errors import GitHubError, GitHubUnavailable
from bot.gh.models import InstallationToken
from bot.gh.repo import RepoGitHub
from bot.outbound import Outbound

if TYPE_CHECKING:
    from collections.abc import Callable

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
        transport_for: Callable[[int], httpx.AsyncBaseTransport] | None = None,
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
        # The transport of one installation's clients (telemetry labels its rate limit by it).
        self._transport_for = transport_for
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
            resp = await call(
                "mint an installation token",
                lambda: self._app.rest.apps.async_create_installation_access_token(
                    installation_id, repositories=list(repositories), permissions=permissions
                ),
            )
            data = read_json(resp)
            expires = datetime.fromisoformat(str(data["expires_at"]))
            token = InstallationToken(
                SecretStr(str(data["token"])), expires.timestamp(), installation_id
            )
            self._tokens[key] = token
            return token

    @property
    def app_client(self) -> GitHub[AppAuthStrategy]:
        """The client authenticated as the app itself (its JWT): `GET /app`, its hook."""
        return self._app

    def anonymous_client(self) -> GitHub[UnauthAuthStrategy]:
        """A client with no credentials: whether GitHub answers at all, whatever the key."""
        return GitHub(
            UnauthAuthStrategy(),
            base_url=self.base_url,
            timeout=self._timeout,
            auto_retry=False,
            async_transport=self._transport,
            ssl_verify=self._ssl,
        )

    def client(self, token: InstallationToken) -> GitHub[TokenAuthStrategy]:
        transport = self._transport
        if self._transport_for is not None and token.installation_id:
            transport = self._transport_for(token.installation_id)
        return GitHub(
            TokenAuthStrategy(token.value.get_secret_value()),
            base_url=self.base_url,
            timeout=self._timeout,
            cache_strategy=self._cache,
            auto_retry=self._retry,
            async_transport=transport,
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
            if exc.status in (404, 422):
                # GitHub's answer when the repo does not exist or the app is not installed on
                # it: most orgs have none, so this is the normal case, not a failure.
                log.info("no org settings repository; using the repository's config only")
            else:
                log.info(
                    "settings repo %s/%s not readable by the installation: %s", owner, repo, exc
                )
            return None
        client = RepoGitHub(self.client(token), owner=owner, name=repo, outbound=self.outbound)
        async with client as gh:
            return await gh.read_file(path)
