"""The emulator's state and admin surface, gathered from its parts (one module per concern)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.localhub.hub_manifests import Manifests
from bot.localhub.hub_meter import DEFAULT_RATE_LIMIT, CallStats, Fault, Meter, RateWindow
from bot.localhub.hub_repos import PERMISSIONS, Repos
from bot.localhub.hub_webhooks import Webhooks
from bot.localhub.hub_world import HubWorld

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

__all__ = ["DEFAULT_RATE_LIMIT", "PERMISSIONS", "CallStats", "Fault", "Hub", "RateWindow"]


class Hub(Repos, Manifests, Webhooks, Meter):
    """All state of one emulator; python-level helpers for tests and the demo live here too.

    Its parts: the records and their lookups (`hub_world`), accounts, apps, installations and
    tokens (`hub_accounts`), apps registered from a manifest (`hub_manifests`), repositories
    and access (`hub_repos`), webhooks (`hub_webhooks`), call counts, rate limits and faults
    (`hub_meter`).
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        webhook_secret: bytes | None,
        public_url: str = "",
        token_ttl_s: float = 3600.0,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        HubWorld.__init__(
            self,
            data_dir=data_dir,
            webhook_secret=webhook_secret,
            public_url=public_url,
            token_ttl_s=token_ttl_s,
            webhook_transport=webhook_transport,
        )
        Meter.__init__(self, rate_limit=rate_limit)
