"""The last step of GitHub's manifest flow: a one-time code exchanged for the new App's
credentials (`POST /app-manifests/{code}/conversions`, no authentication)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from githubkit import GitHub, UnauthAuthStrategy
from pydantic import SecretStr

from bot.gh.calls import call, read_json
from bot.gh.errors import GitHubError

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisteredApp:
    """What GitHub hands over once, right after the App is registered."""

    id: int
    slug: str
    name: str
    owner: str
    html_url: str
    client_id: str
    client_secret: SecretStr
    webhook_secret: SecretStr
    pem: SecretStr


async def convert_manifest(
    code: str, *, base_url: str, transport: httpx.AsyncBaseTransport | None = None
) -> RegisteredApp:
    """The App registered under `code`; GitHubError when GitHub refuses (a code is good for one
    hour and one exchange)."""
    gh = GitHub(
        UnauthAuthStrategy(),
        base_url=base_url,
        timeout=30.0,
        auto_retry=False,
        async_transport=transport,
    )
    async with gh:
        resp = await call(
            "exchange the manifest code", lambda: gh.rest.apps.async_create_from_manifest(code)
        )
    data = read_json(resp)
    try:
        return RegisteredApp(
            id=int(data["id"]),
            slug=str(data["slug"]),
            name=str(data["name"]),
            owner=str((data.get("owner") or {}).get("login", "")),
            html_url=str(data.get("html_url", "")),
            client_id=str(data["client_id"]),
            client_secret=SecretStr(str(data["client_secret"])),
            webhook_secret=SecretStr(str(data.get("webhook_secret") or "")),
            pem=SecretStr(str(data["pem"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GitHubError(f"exchange the manifest code: GitHub's answer lacks {exc}") from exc
