"""Nothing leaves unscanned: the secrets Baton knows, and the wall every outgoing text passes.

What an agent produced (its summary, its error output, the names and contents of its files)
reaches GitHub only through this check; a text that carries one of the server's secrets, the
agent's own key or a credential-like token is withheld whole and replaced by a notice that names
the rule and the channel, never the value. Log lines get the same secrets masked.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from bot.secretscan import Finding, SecretScanner
from config.settings import SettingsError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from config.settings import Settings

log = logging.getLogger(__name__)

# Server variables whose values are credentials (model keys, tokens, passwords).
SECRET_SUFFIXES = ("_API_KEY", "_KEY", "_TOKEN", "_SECRET", "_PASSWORD")


def server_secrets(settings: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """label -> value of every secret the server holds (labels name the variable, not the value)."""
    found: dict[str, str] = {}
    if settings.webhook_secret is not None:
        found["the webhook secret"] = settings.webhook_secret.get_secret_value()
    if settings.client_secret is not None and settings.client_secret.get_secret_value():
        found["the App's client secret"] = settings.client_secret.get_secret_value()
    for label, value in (
        ("the dashboard token", settings.dashboard_token),
        ("the session secret", settings.session_secret),
    ):
        if value is not None and value.get_secret_value():
            found[label] = value.get_secret_value()
        # While rotating, `new,old`: each secret on its own.
        parts = [p.strip() for p in found["the webhook secret"].split(",") if p.strip()]
        if len(parts) > 1:
            for n, part in enumerate(parts, start=1):
                found[f"webhook secret {n}"] = part
    password = urlsplit(settings.database_url).password if "://" in settings.database_url else None
    if password:
        found["the database password"] = unquote(password)
    if env.get("PGPASSWORD"):
        found["the server's PGPASSWORD"] = env["PGPASSWORD"]
    if settings.private_key is not None or settings.private_key_path is not None:
        # An unreadable key file is reported where it is used.
        with contextlib.suppress(SettingsError):
            found["the App's private key"] = settings.private_key_pem()
    for name in sorted(env):
        if name.endswith(SECRET_SUFFIXES) and env[name]:
            found[f"the server's {name}"] = env[name]
    return found


def withheld(findings: list[Finding], channel: str) -> str:
    rules = sorted({f.rule for f in findings})
    return (
        f"_Baton withheld this {channel}: it contained what looks like {', '.join(rules)}. "
        "Nothing of it was posted; the run's log on the Baton server has no copy either._"
    )


@dataclass
class Outbound:
    """The scanner of the server's own secrets; `check` is applied to every text sent to GitHub."""

    secrets: Mapping[str, str] = field(default_factory=dict)
    _scanner: SecretScanner = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._scanner = SecretScanner(self.secrets)

    def with_secrets(self, extra: Mapping[str, str]) -> Outbound:
        """The same wall, knowing more (the run's installation token, the agent's key)."""
        return Outbound({**self.secrets, **{k: v for k, v in extra.items() if v}})

    @property
    def scanner(self) -> SecretScanner:
        return self._scanner

    def findings(self, text: str, channel: str) -> list[Finding]:
        return self._scanner.scan_text(text, where=channel)

    def check(self, text: str, channel: str) -> str:
        """`text` itself, or the notice that replaces it when it carries a secret."""
        found = self.findings(text, channel)
        if not found:
            return text
        log.warning("withheld a %s: %s", channel, "; ".join(str(f) for f in found))
        return withheld(found, channel)

    def mask(self, text: str) -> str:
        return self._scanner.mask(text)


class MaskingFilter(logging.Filter):
    """Masks the server's secrets in every log record (agents' echoed output included)."""

    def __init__(self, outbound: Outbound) -> None:
        super().__init__()
        self._outbound = outbound

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self._outbound.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
