"""The emulator's state and admin surface: accounts, apps, installations, access, stats, faults."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.localhub import gitstore, shapes
from bot.localhub.state import (
    RANK,
    Account,
    AccountType,
    App,
    Installation,
    Principal,
    Repo,
    Token,
    iso,
)
from bot.localhub.webhooks import Delivery, Dispatcher

if TYPE_CHECKING:
    from pathlib import Path

    import httpx


DEFAULT_RATE_LIMIT = 5000
RATE_WINDOW_S = 3600
PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")


@dataclass(frozen=True, slots=True)
class CallStats:
    total: int
    counted_against_rate_limit: int
    not_modified_304: int
    by_route: dict[str, int]


@dataclass
class _Counter:
    total: int = 0
    counted: int = 0
    not_modified: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


@dataclass
class RateWindow:
    limit: int
    used: int = 0
    reset: float = 0.0


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int | None
    remaining: int
    delay_s: float


class Hub:
    """All state of one emulator; python-level helpers for tests and the demo live here too."""

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
        self.data_dir = data_dir
        self.public_url = public_url.rstrip("/")
        self.token_ttl_s = token_ttl_s
        self.rate_limit = rate_limit
        # Used for apps registered without a webhook URL (`baton localhub --webhook-url`).
        self.default_webhook_url: str | None = None
        self.accounts: dict[str, Account] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repo] = {}
        self.dispatcher = Dispatcher(secret=webhook_secret, transport=webhook_transport)
        self._ids = itertools.count(1001)
        self._stats: dict[int, _Counter] = {}
        self._rates: dict[str, RateWindow] = {}
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    # -- URLs (the World protocol of the shape builders) --

    def set_public_url(self, url: str) -> None:
        self.public_url = url.rstrip("/")

    @property
    def web_url(self) -> str:
        return self.public_url

    @property
    def api_url(self) -> str:
        return f"{self.public_url}/api/v3"

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    # -- accounts, apps, installations --

    def account(self, login: str) -> Account:
        return self.accounts[login.lower()]

    def app(self, app_id: int) -> App:
        return self.apps[app_id]

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
            id=app_id, slug=slug, name=slug, public_key_pem=public_key_pem,
            webhook_url=webhook_url, owner=owner, bot=bot, created_at=time.time(),
            hook_id=self.next_id(),
        )  # fmt: skip
        self.apps[app_id] = app
        if webhook_url:
            hook = {
                "type": "App", "id": app.hook_id, "name": "web", "active": True,
                "events": list(app.events), "app_id": app.id,
                "config": {"content_type": "json", "insecure_ssl": "0", "url": webhook_url},
                "updated_at": iso(app.created_at), "created_at": iso(app.created_at),
            }  # fmt: skip
            payload = {"zen": "Keep it logically awesome.", "hook_id": app.hook_id, "hook": hook,
                       "sender": shapes.user(self, owner)}  # fmt: skip
            self._send(app, "ping", payload, key=f"app:{app.id}")

    def install(self, app_id: int, account: str) -> int:
        """Install the app on an account (a user is created if unknown); the installation id."""
        app = self.apps[app_id]
        if account.lower() not in self.accounts:
            self.create_user(account)
        for inst in self.installations.values():
            if inst.app_id == app_id and inst.account.lower() == account.lower():
                return inst.id
        inst = Installation(
            id=self.next_id(), app_id=app_id, account=self.account(account).login,
            created_at=time.time(),
        )  # fmt: skip
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
        self._send(app, "installation", payload, key=f"app:{app.id}")
        return inst.id

    def installation_for(self, app_id: int, owner: str) -> Installation | None:
        return next(
            (
                i
                for i in self.installations.values()
                if i.app_id == app_id and i.account.lower() == owner.lower()
            ),
            None,
        )

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

    # -- repositories and access --

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get(f"{owner}/{name}".lower())

    async def create_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        description: str | None = None,
        default_branch: str = "main",
        auto_init: bool = False,
    ) -> Repo:
        account = self.account(owner)
        now = time.time()
        repo = Repo(
            id=self.next_id(), owner=account.login, name=name, private=private,
            description=description, default_branch=default_branch,
            path=self.data_dir / account.login / f"{name}.git", created_at=now, pushed_at=now,
        )  # fmt: skip
        await gitstore.init(repo.path, default_branch)
        if auto_init:
            await gitstore.commit_file(
                repo.path, branch=default_branch, file_path="README.md",
                content=f"# {name}\n".encode(), message="Initial commit",
                name=account.login, email=f"{account.login}@users.noreply.localhub",
            )  # fmt: skip
        self.repos[repo.full_name.lower()] = repo
        return repo

    def set_permission(self, owner_repo: str, login: str, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"permission must be one of {', '.join(PERMISSIONS)}")
        repo = self.repos[owner_repo.lower()]
        self.create_user(login)
        repo.collaborators[login.lower()] = permission

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

    def access(self, who: Principal, repo: Repo, resource: str = "metadata") -> str:
        """What `who` may do on `repo` for one permission area: none, read or write."""
        public = "read" if not repo.private else "none"
        if who.token is not None:
            inst = self.installations[who.token.installation_id]
            scoped = who.token.repositories is None or repo.name.lower() in who.token.repositories
            if inst.account.lower() != repo.owner.lower() or not scoped:
                return public
            granted = who.token.permissions.get(resource, "read" if resource == "metadata" else "")
            return granted or public
        if who.kind == "user" and who.login:
            rank = RANK[self.permission(repo, who.login)]
            if rank >= RANK["write"] or (resource == "issues" and rank >= RANK["triage"]):
                return "write"
            return "read" if rank >= RANK["read"] else public
        return public

    # -- calls, rate limits, faults --

    def record_call(
        self, installation_id: int | None, route: str, *, counted: bool, not_modified: bool
    ) -> None:
        if installation_id is None:
            return
        with self._lock:
            c = self._stats.setdefault(installation_id, _Counter())
            c.total += 1
            c.counted += counted
            c.not_modified += not_modified
            c.by_route[route] = c.by_route.get(route, 0) + 1

    def calls(self, installation_id: int) -> CallStats:
        c = self._stats.get(installation_id, _Counter())
        return CallStats(c.total, c.counted, c.not_modified, dict(c.by_route))

    def rate(self, key: str) -> RateWindow:
        now = time.time()
        with self._lock:
            window = self._rates.get(key)
            if window is None or window.reset <= now:
                window = RateWindow(limit=self.rate_limit, reset=now + RATE_WINDOW_S)
                self._rates[key] = window
            return window

    def add_fault(
        self,
        method: str,
        path_regex: str,
        *,
        status: int | None = 502,
        count: int = 1,
        delay_s: float = 0.0,
    ) -> None:
        """The next `count` matching requests wait `delay_s`, then fail with `status` (None:
        then proceed normally, which is how a slow GitHub or a client timeout is provoked)."""
        self._faults.append(Fault(method.upper(), re.compile(path_regex), status, count, delay_s))

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in {method, "*"} and fault.path.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- webhooks --

    @property
    def webhooks_enabled(self) -> bool:
        return self.dispatcher.enabled

    @webhooks_enabled.setter
    def webhooks_enabled(self, value: bool) -> None:
        self.dispatcher.enabled = value

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.dispatcher.deliveries)

    async def redeliver(self, delivery_id: str) -> Delivery:
        """Send a recorded delivery again, with its original `X-GitHub-Delivery` id."""
        return self.dispatcher.redeliver(delivery_id)

    async def wait_for_deliveries(self, timeout_s: float = 30.0) -> None:
        await self.dispatcher.wait(timeout_s)

    def _send(self, app: App, event: str, payload: dict[str, Any], *, key: str) -> None:
        if not app.webhook_url:
            return
        self.dispatcher.enqueue(
            self.dispatcher.new(event=event, payload=payload, app_id=app.id,
                                hook_id=app.hook_id, url=app.webhook_url, key=key)
        )  # fmt: skip

    def emit(self, event: str, repo: Repo, sender: str, fields: dict[str, Any]) -> None:
        """Send a repository event to every app installed on the owner that subscribes to it."""
        for app in self.apps.values():
            inst = self.installation_for(app.id, repo.owner)
            if inst is None or event not in app.events:
                continue
            payload: dict[str, Any] = {
                **fields,
                "repository": shapes.repository(self, repo),
                "sender": shapes.user(self, sender),
                "installation": {"id": inst.id, "node_id": shapes.node_id("Installation", inst.id)},
            }
            if self.account(repo.owner).type == "Organization":
                payload["organization"] = shapes.organization(self, repo.owner)
            self._send(app, event, payload, key=f"app:{app.id}:{repo.full_name}")
