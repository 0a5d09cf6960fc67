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

from bot.database import sqlite_versions
from bot.doctor.result import Check, Outcome, failed, passed
from bot.store import pgadmin, pgschema
from bot.store.db import MEMORY, StoreError, sqlite_path
from bot.store.url import Dialect, dialect_of, shown
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
    """Reachable and at the current schema, only read: a missing database is not created."""
    name = "database"
    upgrade = "run `baton db upgrade` where `baton serve` runs"
    try:
        dialect = dialect_of(url)
        if dialect is Dialect.POSTGRESQL:
            return _postgres_check(url)
        path = sqlite_path(url)
    except StoreError as exc:
        return failed(
            name,
            str(exc),
            "set BATON_DATABASE_URL to sqlite:///path/baton.db or postgresql://user@host/baton",
        )
    if path == MEMORY:
        return passed(name, "an in-memory database (nothing is kept across restarts)")
    where = Path(path).resolve()
    if not where.is_file():
        return failed(name, f"there is no database at {where}", upgrade + " (it creates it)")
    try:
        have = sqlite_versions(where)
    except sqlite3.DatabaseError as exc:
        return failed(name, f"{where} cannot be read as Baton's database: {exc}", upgrade)
    return _schema_check(str(where), have)


def _postgres_check(url: str) -> Check:
    where = shown(url)
    try:
        have = pgadmin.versions(url)
    except StoreError as exc:
        return failed(
            "database",
            str(exc),
            "start PostgreSQL or fix BATON_DATABASE_URL (host, port, user, database name); "
            "the README's 'PostgreSQL' section says how to get one",
        )
    if not have:
        return failed("database", f"{where} holds no Baton schema", "run `baton db upgrade`")
    return _schema_check(where, have)


def _schema_check(where: str, have: list[int]) -> Check:
    state = pgschema.state_of(have)
    if state.unknown:
        return failed("database", f"{where} was written by a newer Baton", "upgrade this Baton")
    if state.missing:
        return failed(
            "database",
            f"{where} lacks schema versions {list(state.missing)}",
            "run `baton db upgrade`",
        )
    return passed("database", f"{where}, schema version {max(have)}")


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
