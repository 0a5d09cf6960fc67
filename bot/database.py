"""Open Baton's database and bring its schema up to date (queue, deliveries and ledger)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.db import MEMORY, StoreError, migrate, open_sqlite, sqlite_path

if TYPE_CHECKING:
    import sqlite3


def open_database(url: str) -> sqlite3.Connection:
    """Open the database named by `BATON_DATABASE_URL` and apply pending migrations."""
    conn = open_sqlite(url)
    migrate(conn)
    return conn


def open_existing_database(url: str) -> sqlite3.Connection:
    """Like `open_database`, for commands that only read: a missing file is an error (with what
    to do), never a new empty database that would hide where the server's one is."""
    path = sqlite_path(url)
    if path != MEMORY and not Path(path).is_file():
        raise StoreError(
            f"there is no database at {Path(path).resolve()}: point BATON_DATABASE_URL at the "
            "server's (sqlite:////absolute/path/baton.db), or run this where `baton serve` runs"
        )
    return open_database(url)
