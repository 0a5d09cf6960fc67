"""Apps registered from a manifest, as GitHub's manifest flow makes them: the app with its own key,
webhook secret and OAuth client, and a one-time code its registrant exchanges for them."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.localhub import shapes
from bot.localhub.hub_oauth import OAuth, OAuthClient
from bot.localhub.state import App, PendingApp

# GitHub's limits: a code is good for one hour, once; an app's name is at most 34 characters.
CODE_TTL_S = 3600.0
MAX_NAME = 34


class ManifestError(ValueError):
    """The manifest cannot make an app; the message is GitHub's kind of explanation."""


def slug_of(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # GitHub's download: "RSA PRIVATE KEY"
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{what} must be a list of strings")
    return tuple(value)


class Manifests(OAuth):
    """`create_from_manifest` (the new-app form's confirmation) and `convert` (the API call)."""

    def check_manifest(self, manifest: dict[str, Any]) -> None:
        """Refuse what GitHub refuses: no name or homepage, an active hook without a URL."""
        name = manifest.get("name")
        if not isinstance(name, str) or not slug_of(name):
            raise ManifestError("name can't be blank")
        if len(name) > MAX_NAME:
            raise ManifestError(f"name is too long (maximum is {MAX_NAME} characters)")
        if not isinstance(manifest.get("url"), str) or not manifest["url"]:
            raise ManifestError("url can't be blank")
        hook = manifest.get("hook_attributes") or {}
        if not isinstance(hook, dict):
            raise ManifestError("hook_attributes must be an object")
        if hook.get("active", True) and not hook.get("url"):
            raise ManifestError("hook_attributes.url can't be blank when the hook is active")
        permissions = manifest.get("default_permissions") or {}
        if not isinstance(permissions, dict) or not all(
            v in {"read", "write", "admin"} for v in permissions.values()
        ):
            raise ManifestError("default_permissions must map permissions to read or write")
        _strings(manifest.get("default_events"), "default_events")
        _strings(manifest.get("callback_urls"), "callback_urls")
        if any(slug_of(a.name) == slug_of(name) for a in self.apps.values()):
            raise ManifestError("Name is already in use")

    def create_from_manifest(self, manifest: dict[str, Any], owner: str) -> tuple[App, str]:
        """Register the app for `owner` (a user or an org); the app and its one-time code."""
        self.check_manifest(manifest)
        account = self.account(owner)
        private, public = _key_pair()
        hook = manifest.get("hook_attributes") or {}
        app_id = self.next_id()
        name = str(manifest["name"])
        self.apps[app_id] = app = App(
            id=app_id,
            slug=slug_of(name),
            name=name,
            public_key_pem=public,
            webhook_url=str(hook["url"]) if hook.get("active", True) else None,
            owner=account.login,
            bot=self._add_account(f"{slug_of(name)}[bot]", "Bot"),
            created_at=time.time(),
            hook_id=self.next_id(),
            permissions={"metadata": "read", **dict(manifest.get("default_permissions") or {})},
            events=_strings(manifest.get("default_events"), "default_events"),
            webhook_secret=secrets.token_hex(20).encode(),
            client_id="Iv23li" + secrets.token_hex(7),
            client_secret=secrets.token_hex(20),
            public=bool(manifest.get("public", False)),
            description=manifest.get("description"),
            homepage=str(manifest["url"]),
            callback_urls=_strings(manifest.get("callback_urls"), "callback_urls"),
            setup_url=str(manifest.get("setup_url") or ""),
        )
        # Its OAuth client is the one the conversion hands over: users log in with it.
        self.oauth_clients[app.client_id] = OAuthClient(app_id, app.client_id, app.client_secret)
        if app.webhook_url:
            self.ping(app)
        code = secrets.token_hex(10)
        self.manifest_codes[code] = PendingApp(app_id, private, time.time() + CODE_TTL_S)
        return app, code

    def convert(self, code: str) -> dict[str, Any] | None:
        """`POST /app-manifests/{code}/conversions`: the app with its credentials, once; None
        for a code that is unknown, used or older than an hour."""
        pending = self.manifest_codes.pop(code, None)
        if pending is None or pending.expires_at < time.time():
            return None
        app = self.apps[pending.app_id]
        secret = app.webhook_secret.decode() if app.webhook_secret is not None else None
        return {
            **shapes.integration(self, app),
            "installations_count": 0,
            "client_secret": app.client_secret,
            "webhook_secret": secret,
            "pem": pending.pem,
        }
