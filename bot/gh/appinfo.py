"""What GitHub knows of the app itself: its identity, installations, webhook and deliveries.

Read with the app's JWT (and, to count an installation's repositories, a read-only token),
for `baton doctor`; the values are small and tolerant, like the rest of the layer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from bot.gh.calls import call, read_json
from bot.gh.deliveries import HookDelivery, deliveries
from bot.gh.models import InstallationToken

if TYPE_CHECKING:
    from bot.gh.app import GitHubApp

RECENT_DELIVERIES = 30
_READ_ONLY: Any = {"metadata": "read"}


@dataclass(frozen=True, slots=True)
class AppIdentity:
    id: int
    slug: str


@dataclass(frozen=True, slots=True)
class InstallationInfo:
    id: int
    account: str
    repositories: int


@dataclass(frozen=True, slots=True)
class HookConfig:
    url: str
    content_type: str


async def rate_limit_answered(app: GitHubApp) -> None:
    """Ask GitHub, without credentials, for the rate limit: it raises when GitHub is not there."""
    async with app.anonymous_client() as gh:
        await call("reach GitHub", gh.rest.rate_limit.async_get)


async def identity(app: GitHubApp) -> AppIdentity:
    """`GET /app`: the app the JWT's key belongs to (refused when the key is not the app's)."""
    resp = await call("read the app", app.app_client.rest.apps.async_get_authenticated)
    data = read_json(resp)
    return AppIdentity(id=int(data["id"]), slug=str(data.get("slug") or ""))


async def _repository_count(app: GitHubApp, installation_id: int) -> int:
    resp = await call(
        "mint a read-only token",
        lambda: app.app_client.rest.apps.async_create_installation_access_token(
            installation_id, permissions=_READ_ONLY
        ),
    )
    data = read_json(resp)
    token = InstallationToken(SecretStr(str(data["token"])), 0.0, installation_id)
    async with app.client(token) as gh:
        listed = await call(
            "list the installation's repositories",
            lambda: gh.rest.apps.async_list_repos_accessible_to_installation(per_page=1),
        )
    return int(read_json(listed).get("total_count", 0))


async def installations(app: GitHubApp) -> list[InstallationInfo]:
    """Every installation of the app, with how many repositories each one covers."""
    resp = await call(
        "list the app's installations",
        lambda: app.app_client.rest.apps.async_list_installations(per_page=100),
    )
    out = []
    for item in read_json(resp):
        account = item.get("account") or {}
        inst_id = int(item["id"])
        count = await _repository_count(app, inst_id)
        out.append(InstallationInfo(inst_id, str(account.get("login", "?")), count))
    return out


async def hook_config(app: GitHubApp) -> HookConfig:
    """`GET /app/hook/config`: where GitHub sends the app's webhooks, and as what."""
    resp = await call(
        "read the app's webhook", app.app_client.rest.apps.async_get_webhook_config_for_app
    )
    data = read_json(resp)
    return HookConfig(url=str(data.get("url") or ""), content_type=str(data.get("content_type")))


async def recent_deliveries(app: GitHubApp) -> list[HookDelivery]:
    """The app's latest webhook deliveries, newest first."""
    return await deliveries(app, limit=RECENT_DELIVERIES)
