"""The hub's user authorization of apps (the OAuth web flow): client credentials, one-time
codes and the user-to-server tokens (`ghu_`) they are exchanged for."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from bot.localhub.hub_accounts import Accounts

# GitHub's figures: a code lives ten minutes, a user-to-server token eight hours.
CODE_TTL_S = 600.0
USER_TOKEN_TTL_S = 8 * 3600.0


def client_id_of(app_id: int) -> str:
    """The emulator's client id of an app (GitHub's are opaque; these are predictable)."""
    return f"Iv23.localhub{app_id}"


class OAuthError(Exception):
    """Why an exchange failed, as GitHub's `error` field names it."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class OAuthClient:
    app_id: int
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class Grant:
    """A code handed to the browser: which user authorized which app, for which redirect."""

    app_id: int
    login: str
    redirect_uri: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class UserToken:
    value: str
    app_id: int
    login: str
    expires_at: float


class OAuth(Accounts):
    """Each app gets client credentials on demand; a user authorizes it, and the code the
    browser carries back is exchanged, once, for a token that acts as that user."""

    def oauth_client(self, app_id: int, *, secret: str | None = None) -> OAuthClient:
        """The app's client id and secret, made the first time they are asked for (with
        `secret` when given: a demo hands its server the secret before the app exists)."""
        for client in self.oauth_clients.values():
            if client.app_id == app_id:
                return client
        if app_id not in self.apps:
            raise KeyError(f"no app {app_id}")
        client = OAuthClient(
            app_id=app_id,
            client_id=client_id_of(app_id),
            client_secret=secret or secrets.token_hex(20),
        )
        self.oauth_clients[client.client_id] = client
        return client

    def client_by_id(self, client_id: str) -> OAuthClient | None:
        return self.oauth_clients.get(client_id)

    def grant(self, client_id: str, login: str, redirect_uri: str) -> str:
        """`login` authorizes the app: the code its browser carries to `redirect_uri`."""
        client = self.client_by_id(client_id)
        if client is None:
            raise OAuthError("incorrect_client_credentials", "unknown client_id")
        self.create_user(login)
        code = secrets.token_hex(10)
        expires = time.time() + CODE_TTL_S
        self.oauth_grants[code] = Grant(client.app_id, login, redirect_uri, expires)
        return code

    def exchange(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str | None
    ) -> UserToken:
        """The code for a user-to-server token; a code is good once, for ten minutes."""
        client = self.oauth_clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret, client_secret):
            raise OAuthError(
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            )
        grant = self.oauth_grants.pop(code, None)
        if grant is None or grant.app_id != client.app_id or grant.expires_at <= time.time():
            raise OAuthError("bad_verification_code", "The code passed is incorrect or expired.")
        if redirect_uri and redirect_uri != grant.redirect_uri:
            raise OAuthError(
                "redirect_uri_mismatch", "The redirect_uri MUST match the registered callback."
            )
        token = UserToken(
            value="ghu_" + secrets.token_hex(18),
            app_id=client.app_id,
            login=grant.login,
            expires_at=time.time() + USER_TOKEN_TTL_S,
        )
        self.user_tokens[token.value] = token
        return token

    def user_token(self, value: str) -> UserToken | None:
        token = self.user_tokens.get(value)
        return token if token is not None and token.expires_at > time.time() else None
