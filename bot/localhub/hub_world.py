"""The emulator's records and what the shape builders read of them: URLs, lookups and roles."""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

from bot.localhub.webhooks import Dispatcher

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from bot.localhub.hub_oauth import Grant, OAuthClient, UserToken
    from bot.localhub.state import Account, App, Installation, PendingApp, Repo, Token


class HubWorld:
    """The state every part of the hub shares; it satisfies the shape builders' `World`."""

    def __init__(
        self,
        *,
        data_dir: Path,
        webhook_secret: bytes | None,
        public_url: str,
        token_ttl_s: float,
        webhook_transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.data_dir = data_dir
        self.public_url = public_url.rstrip("/")
        self.token_ttl_s = token_ttl_s
        # Used for apps registered without a webhook URL (`baton localhub --webhook-url`).
        self.default_webhook_url: str | None = None
        self.accounts: dict[str, Account] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repo] = {}
        # Codes of the manifest flow, exchanged once for the new app's credentials.
        self.manifest_codes: dict[str, PendingApp] = {}
        # The OAuth web flow (`hub_oauth`): client credentials, pending codes, user tokens.
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.oauth_grants: dict[str, Grant] = {}
        self.user_tokens: dict[str, UserToken] = {}
        self.dispatcher = Dispatcher(secret=webhook_secret, transport=webhook_transport)
        self._ids = itertools.count(1001)
        self._ids_lock = threading.Lock()

    # -- URLs --

    def set_public_url(self, url: str) -> None:
        self.public_url = url.rstrip("/")

    @property
    def web_url(self) -> str:
        return self.public_url

    @property
    def api_url(self) -> str:
        return f"{self.public_url}/api/v3"

    def next_id(self) -> int:
        with self._ids_lock:
            return next(self._ids)

    # -- lookups --

    def account(self, login: str) -> Account:
        return self.accounts[login.lower()]

    def app(self, app_id: int) -> App:
        return self.apps[app_id]

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def installation_for(self, app_id: int, owner: str) -> Installation | None:
        return next(
            (
                i
                for i in self.installations.values()
                if i.app_id == app_id and i.account.lower() == owner.lower()
            ),
            None,
        )

    # -- roles --

    def permission(self, repo: Repo, login: str) -> str:
        """A user's role on a repository, as the collaborator-permission API reports it."""
        key = login.lower()
        if key in repo.collaborators:
            return repo.collaborators[key]
        owner = self.account(repo.owner)
        if owner.type == "User":
            return "admin" if key == owner.login.lower() else "none"
        # Organization members get the org's base permission (GitHub's default: read).
        return "read" if key in owner.members else "none"

    def association(self, repo: Repo, login: str) -> str:
        key = login.lower()
        owner = self.account(repo.owner)
        if key == owner.login.lower():
            return "OWNER"
        if key in owner.members:
            return "MEMBER"
        return "COLLABORATOR" if key in repo.collaborators else "NONE"

    # -- webhooks out --

    def send_webhook(self, app: App, event: str, payload: dict[str, Any], *, key: str) -> None:
        """Queue one delivery of `event` to the app's webhook URL (none: nothing is sent)."""
        if not app.webhook_url:
            return
        delivery = self.dispatcher.new(
            event=event,
            payload=payload,
            app_id=app.id,
            hook_id=app.hook_id,
            url=app.webhook_url,
            key=key,
            secret=app.webhook_secret,
        )
        self.dispatcher.enqueue(delivery)
