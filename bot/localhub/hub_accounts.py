"""The hub's accounts, apps, installations and installation tokens."""

from __future__ import annotations

import secrets
import time
from typing import Any

from bot.localhub import shapes
from bot.localhub.hub_world import HubWorld
from bot.localhub.state import Account, AccountType, App, Installation, Token, iso


class Accounts(HubWorld):
    """Users, orgs and apps are made here; an app hears `ping` and `installation` as on GitHub."""

    def _add_account(self, login: str, kind: AccountType) -> Account:
        if login.lower() in self.accounts:
            return self.accounts[login.lower()]
        account = Account(id=self.next_id(), login=login, type=kind, created_at=time.time())
        self.accounts[login.lower()] = account
        return account

    def create_user(self, login: str) -> Account:
        return self._add_account(login, "User")

    def create_org(self, login: str, members: list[str] | tuple[str, ...] = ()) -> Account:
        org = self._add_account(login, "Organization")
        for member in members:
            self.create_user(member)
            org.members.add(member.lower())
        return org

    def register_app(
        self,
        app_id: int,
        slug: str,
        public_key_pem: str,
        webhook_url: str | None,
        *,
        owner: str = "localhub",
    ) -> None:
        """Register (or re-register) an app; with a webhook URL GitHub sends it a `ping`."""
        webhook_url = webhook_url or self.default_webhook_url
        self.create_user(owner)
        bot = self._add_account(f"{slug}[bot]", "Bot")
        app = App(
            id=app_id,
            slug=slug,
            name=slug,
            public_key_pem=public_key_pem,
            webhook_url=webhook_url,
            owner=owner,
            bot=bot,
            created_at=time.time(),
            hook_id=self.next_id(),
        )
        self.apps[app_id] = app
        if webhook_url:
            self.ping(app)

    def ping(self, app: App) -> None:
        """GitHub's `ping` to a new app's webhook."""
        assert app.webhook_url is not None
        payload = {
            "zen": "Keep it logically awesome.",
            "hook_id": app.hook_id,
            "hook": _app_hook(app, app.webhook_url),
            "sender": shapes.user(self, app.owner),
        }
        self.send_webhook(app, "ping", payload, key=f"app:{app.id}")

    def install(self, app_id: int, account: str) -> int:
        """Install the app on an account (a user is created if unknown); the installation id."""
        app = self.apps[app_id]
        if account.lower() not in self.accounts:
            self.create_user(account)
        for inst in self.installations.values():
            if inst.app_id == app_id and inst.account.lower() == account.lower():
                return inst.id
        inst = Installation(
            id=self.next_id(),
            app_id=app_id,
            account=self.account(account).login,
            created_at=time.time(),
        )
        self.installations[inst.id] = inst
        repos = [r for r in self.repos.values() if r.owner.lower() == account.lower()]
        payload: dict[str, Any] = {
            "action": "created",
            "installation": shapes.installation(self, inst),
            "repositories": [
                {
                    "id": r.id,
                    "node_id": shapes.node_id("Repository", r.id),
                    "name": r.name,
                    "full_name": r.full_name,
                    "private": r.private,
                }
                for r in repos
            ],
            "requester": None,
            "sender": shapes.user(self, self.account(account).login),
        }
        self.send_webhook(app, "installation", payload, key=f"app:{app.id}")
        return inst.id

    def mint_token(
        self,
        installation_id: int,
        *,
        repositories: list[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> Token:
        inst = self.installations[installation_id]
        app = self.apps[inst.app_id]
        granted = dict(app.permissions)
        if permissions:
            granted = {k: v for k, v in permissions.items() if k in app.permissions}
        token = Token(
            value="ghs_" + secrets.token_urlsafe(30).replace("-", "A").replace("_", "B"),
            installation_id=installation_id,
            expires_at=time.time() + self.token_ttl_s,
            repositories=frozenset(r.lower() for r in repositories) if repositories else None,
            permissions=granted,
        )
        self.tokens[token.value] = token
        return token


def _app_hook(app: App, url: str) -> dict[str, Any]:
    """The app's webhook as the `ping` payload describes it."""
    return {
        "type": "App",
        "id": app.hook_id,
        "name": "web",
        "active": True,
        "events": list(app.events),
        "app_id": app.id,
        "config": {"content_type": "json", "insecure_ssl": "0", "url": url},
        "updated_at": iso(app.created_at),
        "created_at": iso(app.created_at),
    }
