"""Baton's database: opening it, its migrations, and transactions."""

from bot.store.db import (
    MigrationError,
    StoreError,
    applied_versions,
    migrate,
    open_sqlite,
    sqlite_path,
    transaction,
)
from bot.store.migrations import MIGRATIONS, Migration

__all__ = [
    "MIGRATIONS",
    "Migration",
    "MigrationError",
    "StoreError",
    "applied_versions",
    "migrate",
    "open_sqlite",
    "sqlite_path",
    "transaction",
]
