"""The checks that need no GitHub: the settings, the database, the sandbox, the run limits.

None of them prints a setting's value: a line names the variable and says what is wrong.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bot.doctor.result import Check, Outcome, failed, passed
from bot.store.db import MEMORY, StoreError, sqlite_path
from bot.store.migrations import MIGRATIONS
from config.settings import SettingsError

if TYPE_CHECKING:
    from adapters.runlimits import Enforced
    from adapters.sandbox import SandboxStatus
    from config.settings import Settings

KEY_ADVICE = (
    "set BATON_PRIVATE_KEY_PATH to the .pem file downloaded from the App's settings page "
    "(General > Private keys > Generate a private key)"
)


def app_id_check(settings: Settings) -> Check:
    name = "app id"
    if not settings.app_id:
        return failed(
            name, "BATON_APP_ID is not set", "set BATON_APP_ID to the App's id (a number)"
        )
    if not settings.app_id.strip().isdigit():
        return failed(
            name, "BATON_APP_ID is not a number", "use the App ID shown on the App's settings page"
        )
    return passed(name, "BATON_APP_ID is a number")


def private_key_check(settings: Settings) -> Check:
    """The key is read and parsed with `cryptography`: GitHub App keys are RSA, in PEM."""
    name = "private key"
    try:
        pem = settings.private_key_pem()
    except SettingsError as exc:
        return failed(name, str(exc), KEY_ADVICE)
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return failed(name, "the private key is not a readable, unencrypted PEM key", KEY_ADVICE)
    if not isinstance(key, RSAPrivateKey):
        return failed(name, "the private key is not an RSA key", KEY_ADVICE)
    return passed(name, f"an RSA key of {key.key_size} bits")


def webhook_secret_check(settings: Settings) -> Check:
    name = "webhook secret"
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        return failed(
            name,
            "BATON_WEBHOOK_SECRET is not set",
            "set it to the secret entered in the App's webhook settings",
        )
    return passed(name, "BATON_WEBHOOK_SECRET is set")


def database_check(url: str) -> Check:
    """Reachable and at the current schema, opened read-only: a missing file is not created."""
    name = "database"
    upgrade = "run `baton db upgrade` where `baton serve` runs"
    try:
        path = sqlite_path(url)
    except StoreError as exc:
        return failed(name, str(exc), "set BATON_DATABASE_URL to sqlite:///path/baton.db")
    if path == MEMORY:
        return passed(name, "an in-memory database (nothing is kept across restarts)")
    where = Path(path).resolve()
    if not where.is_file():
        return failed(name, f"there is no database at {where}", upgrade + " (it creates it)")
    try:
        conn = sqlite3.connect(f"{where.as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return failed(name, f"{where} cannot be read as Baton's database: {exc}", upgrade)
    have = {int(r[0]) for r in rows}
    missing = [m.version for m in MIGRATIONS if m.version not in have]
    if missing:
        return failed(name, f"{where} lacks schema versions {missing}", upgrade)
    if have - {m.version for m in MIGRATIONS}:
        return failed(name, f"{where} was written by a newer Baton", "upgrade this Baton")
    return passed(name, f"{where}, schema version {max(have)}")


def sandbox_check(mode: str, status: SandboxStatus | None) -> Check:
    name = "sandbox"
    if mode == "none" or status is None:
        return passed(name, "not used: BATON_SANDBOX=none runs agents without bubblewrap")
    if status.ok:
        return passed(name, status.reason)
    return failed(
        name,
        status.reason,
        "install bubblewrap (`apt-get install bubblewrap`) and allow unprivileged user "
        "namespaces, or set BATON_SANDBOX=none to run agents unsandboxed",
    )


def limit_checks(enforced: list[Enforced]) -> list[Check]:
    """Each per-run limit and how it is held here; one this machine cannot hold is a note."""
    return [
        Check(f"limit: {e.limit}", Outcome.PASSED if e.enforced else Outcome.NOTE, e.how)
        for e in enforced
    ]
