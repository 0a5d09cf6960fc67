"""Signed cookies: who is signed in and what they may see, readable by nobody's guess.

A cookie is `body.signature`: the body is the JSON payload, compressed and base64url-encoded;
the signature an HMAC-SHA256 of the body under the session key. A cookie whose signature does
not match, that does not decode, or whose `exp` has passed is no session at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.settings import Settings

# GitHub's user-to-server tokens live eight hours: a session never outlives the sign-in.
SESSION_TTL_S = 8 * 3600.0
# Browsers keep cookies up to 4096 bytes, name and attributes included.
MAX_COOKIE_BYTES = 3800
_DERIVE_LABEL = b"baton dashboard session key v1"
SESSION = "session"
SIGN_IN_STATE = "sign-in state"


class SessionTooLarge(Exception):
    """The session does not fit in a cookie (a person with access to thousands of repos)."""


def session_key(settings: Settings) -> bytes:
    """`BATON_SESSION_SECRET`, or when it is unset a key derived from the App's private key:
    the same in every process that has the key, never shown, and replaced with the key."""
    if settings.session_secret is not None and settings.session_secret.get_secret_value():
        return settings.session_secret.get_secret_value().encode()
    return hmac.new(settings.private_key_pem().encode(), _DERIVE_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> str:
    # The purpose is signed too: a cookie made for one use (the sign-in's state) is never
    # accepted for another (a session).
    return _b64(hmac.new(key, f"{purpose}\0{body}".encode(), hashlib.sha256).digest())


def sign(
    key: bytes, payload: dict[str, Any], *, now: float, ttl_s: float, purpose: str = SESSION
) -> str:
    """The cookie value carrying `payload` for `purpose` until `now + ttl_s`."""
    raw = json.dumps({**payload, "exp": now + ttl_s}, separators=(",", ":"), sort_keys=True)
    body = _b64(zlib.compress(raw.encode(), 9))
    mac = _mac(key, purpose, body)
    value = f"{body}.{mac}"
    if len(value) > MAX_COOKIE_BYTES:
        raise SessionTooLarge(f"a session of {len(value)} bytes does not fit in a cookie")
    return value


def verify(
    key: bytes, value: str | None, *, now: float, purpose: str = SESSION
) -> dict[str, Any] | None:
    """The payload of a cookie this key signed for `purpose` and that has not expired; else
    None."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    expected = _mac(key, purpose, body)
    if not hmac.compare_digest(expected, mac):
        return None
    try:
        payload = json.loads(zlib.decompress(_unb64(body), bufsize=64 * 1024))
    except (ValueError, zlib.error, binascii.Error):
        return None
    if not isinstance(payload, dict):
        return None
    exp = payload.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        return None
    return payload


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking. `repos` None: every repository (the operator); else only these."""

    login: str
    repos: frozenset[str] | None

    @property
    def operator(self) -> bool:
        return self.repos is None

    def sees(self, repo: str) -> bool:
        return self.repos is None or repo in self.repos

    def payload(self) -> dict[str, Any]:
        return {"login": self.login, "repos": None if self.repos is None else sorted(self.repos)}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Viewer | None:
        login, repos = payload.get("login"), payload.get("repos", [])
        if not isinstance(login, str) or not (repos is None or isinstance(repos, list)):
            return None
        return cls(login=login, repos=None if repos is None else frozenset(map(str, repos)))
