"""Opening Baton's SQLite database and bringing its schema up to date."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.store.errors import MigrationError, StoreError
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.url import Dialect, dialect_of

MEMORY = ":memory:"
_SQLITE_PREFIX = "sqlite:///"
# Long enough to ride out a checkpoint or a second connection's short write.
BUSY_TIMEOUT_MS = 5000


__all__ = ["MigrationError", "StoreError"]


def sqlite_path(url_or_path: str | Path) -> str:
    """The file path (or `:memory:`) named by `sqlite:///rel.db`, `sqlite:////abs.db` or a path."""
    if isinstance(url_or_path, Path):
        return str(url_or_path)
    if url_or_path.startswith(_SQLITE_PREFIX):
        path = url_or_path.removeprefix(_SQLITE_PREFIX)
    elif "://" in url_or_path:
        kind = "a PostgreSQL" if dialect_of(url_or_path) is Dialect.POSTGRESQL else "no SQLite"
        raise StoreError(
            f"this URL names {kind} database, where a SQLite file is needed: use "
            "sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    else:
        path = url_or_path
    if not path:
        raise StoreError("the SQLite database URL names no file: use sqlite:///baton.db")
    return path


def open_sqlite(url_or_path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database, tuned for one process writing from an event loop.

    The connection is in autocommit mode: writes that belong together use `transaction()`.
    """
    path = sqlite_path(url_or_path)
    try:
        # check_same_thread=False: the owner may hand the connection to a worker thread, one
        # user at a time; the module itself serialises calls.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot open the SQLite database {path}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if path != MEMORY:
            # WAL: readers never block the writer, and a killed process loses nothing committed.
            conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable against a crashed process under WAL; only an OS crash can lose
        # the last commits, which GitHub's delivery redelivery covers.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"cannot use {path} as a SQLite database: {exc}") from exc
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction: committed if it returns, rolled back if it raises."""
    if conn.in_transaction:
        raise StoreError("transactions do not nest: one is already open on this connection")
    # IMMEDIATE takes the write lock up front, so read-then-write blocks cannot interleave.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def split_statements(sql: str) -> list[str]:
    """Split a script into statements (`executescript` commits: no use in a transaction)."""
    statements: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise MigrationError(f"unterminated SQL statement (missing ';'): {pending.strip()[:80]}")
    return statements


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


def _check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if any(v < 1 for v in versions) or versions != sorted(set(versions)):
        raise MigrationError(f"migration versions must be positive and increasing: {versions}")


def applied_versions(conn: sqlite3.Connection) -> list[int]:
    """The versions recorded in `schema_migrations`, oldest first."""
    rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [int(row[0]) for row in rows]


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the pending migrations in order, each in its own transaction; return their versions."""
    _check_order(migrations)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    known = {m.version for m in migrations}
    already = set(applied_versions(conn))
    unknown = sorted(already - known)
    if unknown:
        raise MigrationError(
            f"the database has schema versions {unknown} this Baton does not know: "
            "it was written by a newer Baton"
        )
    done: list[int] = []
    for migration in migrations:
        if migration.version in already:
            continue
        with transaction(conn):
            # Checked inside the write lock: a second process migrating at once skips it.
            if conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
            ).fetchone():
                continue
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
        done.append(migration.version)
    return done


def open_database(url: str) -> sqlite3.Connection:
    """Open the SQLite database named by `BATON_DATABASE_URL` and apply pending migrations."""
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
