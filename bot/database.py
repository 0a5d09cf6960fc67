"""Open Baton's database and bring its schema up to date (queue, deliveries and ledger)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.store.db import migrate, open_sqlite

if TYPE_CHECKING:
    import sqlite3


def open_database(url: str) -> sqlite3.Connection:
    """Open the database named by `BATON_DATABASE_URL` and apply pending migrations."""
    conn = open_sqlite(url)
    migrate(conn)
    return conn
