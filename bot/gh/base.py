"""One repository's client: the installation-token session, access and file reads."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Self

from bot.gh.calls import call, read_json
from bot.gh.errors import NotFound
from bot.outbound import Outbound

if TYPE_CHECKING:
    from githubkit import GitHub, TokenAuthStrategy


class RepoClient:
    """What every per-repo call shares; the calls by resource extend it (see `bot.gh.repo`)."""

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
            resp = await call(
                "check permission",
                lambda: self._gh.rest.repos.async_get_collaborator_permission_level(
                    self.owner, self.name, login
                ),
            )
        except NotFound:
            return "none"
        data = read_json(resp)
        role = str(data.get("role_name") or "")
        # maintain and triage are reported as write and read; role_name keeps the finer grain.
        return role if role in {"maintain", "triage"} else str(data.get("permission", "none"))

    async def read_file(self, path: str, ref: str | None = None) -> str | None:
        """A file's text on `ref` (default branch when None); None if absent. ETag-cached."""
        kwargs: dict[str, Any] = {"ref": ref} if ref else {}
        try:
            resp = await call(
                f"read {path}",
                lambda: self._gh.rest.repos.async_get_content(
                    self.owner, self.name, path, **kwargs
                ),
            )
        except NotFound:
            return None
        data = read_json(resp)
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        return base64.b64decode(str(data.get("content", ""))).decode("utf-8", "replace")
