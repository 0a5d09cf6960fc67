"""Who is calling: an app (RS256 JWT), an installation (ghs_ token), a user (a login), nobody."""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING

import jwt

from bot.localhub.state import ANONYMOUS, App, Principal

if TYPE_CHECKING:
    from bot.localhub.hub import Hub

# GitHub refuses app JWTs that live longer than this (its documented maximum is 10 minutes).
MAX_JWT_LIFETIME_S = 600
CLOCK_SKEW_S = 60


class AuthError(Exception):
    """The credentials were sent but are not valid; GitHub answers 401 with this message."""


def verify_jwt(hub: Hub, encoded: str) -> App:
    """The app whose key signed this JWT, checked like GitHub: RS256, `iss`, `exp` <= 10 min."""
    try:
        claims = jwt.decode(encoded, options={"verify_signature": False})
        app = hub.apps.get(int(claims["iss"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise AuthError("A JSON web token could not be decoded") from exc
    if app is None:
        raise AuthError("Integration not found")
    try:
        claims = jwt.decode(
            encoded,
            app.public_key_pem,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"]},
            leeway=CLOCK_SKEW_S,
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time"
            " at which the assertion expires"
        ) from exc
    except jwt.PyJWTError as exc:
        raise AuthError("A JSON web token could not be decoded") from exc
    if int(claims["exp"]) - time.time() > MAX_JWT_LIFETIME_S + CLOCK_SKEW_S:
        raise AuthError("'Expiration time' claim ('exp') is too far in the future")
    return app


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("eyJ")


def from_secret(hub: Hub, secret: str) -> Principal:
    """A credential as sent after `token`/`Bearer` or as a Basic password."""
    if _looks_like_jwt(secret):
        app = verify_jwt(hub, secret)
        return Principal(kind="app", app_id=app.id, login=app.bot.login)
    if secret.startswith("ghs_"):
        token = hub.tokens.get(secret)
        if token is None or token.expires_at <= time.time():
            raise AuthError("Bad credentials")
        inst = hub.installations[token.installation_id]
        app = hub.apps[inst.app_id]
        return Principal(kind="installation", login=app.bot.login, app_id=app.id, token=token)
    if secret.startswith("ghu_"):
        # A user-to-server token from the OAuth web flow: it acts as the user who authorized.
        user_token = hub.user_token(secret)
        if user_token is None:
            raise AuthError("Bad credentials")
        return Principal(kind="user", login=user_token.login, app_id=user_token.app_id)
    # A dev emulator: a user authenticates with their login as the token.
    account = hub.accounts.get(secret.lower())
    if account is None or account.type != "User":
        raise AuthError("Bad credentials")
    return Principal(kind="user", login=account.login)


def from_authorization(hub: Hub, header: str | None) -> Principal:
    """`Authorization: token X` / `Bearer X` (REST); no header is the anonymous caller."""
    if not header:
        return ANONYMOUS
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "basic":
        return from_basic(hub, header) or ANONYMOUS
    if scheme.lower() not in {"token", "bearer"} or not value.strip():
        raise AuthError("Bad credentials")
    return from_secret(hub, value.strip())


def from_basic(hub: Hub, header: str | None) -> Principal | None:
    """HTTP Basic as git sends it: any username, the token (or a user's login) as password."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return from_authorization(hub, header)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthError("Bad credentials") from exc
    username, _, password = decoded.partition(":")
    return from_secret(hub, password or username)
