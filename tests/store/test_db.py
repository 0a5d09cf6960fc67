"""Opening the database from BATON_DATABASE_URL, and applying migrations once, in order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import (
    MIGRATIONS,
    Migration,
    MigrationError,
    StoreError,
    applied_versions,
    migrate,
    open_sqlite,
    sqlite_path,
    transaction,
)
from bot.store.db import split_statements


@pytest.fixture
def memory() -> Iterator[sqlite3.Connection]:
    conn = open_sqlite(":memory:")
    yield conn
    conn.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///baton.db", "baton.db"),
        ("sqlite:///data/baton.db", "data/baton.db"),
        ("sqlite:////var/lib/baton/baton.db", "/var/lib/baton/baton.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("/tmp/plain.db", "/tmp/plain.db"),
        (Path("rel.db"), "rel.db"),
    ],
)
def test_database_urls_name_files(url: str | Path, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize("url", ["postgresql://db/baton", "sqlite:///", "mysql://x"])
def test_urls_that_are_not_a_sqlite_file_are_refused(url: str) -> None:
    with pytest.raises(StoreError, match="sqlite:///"):
        sqlite_path(url)


def test_a_file_database_is_tuned_for_one_writer_process(tmp_path: Path) -> None:
    conn = open_sqlite(f"sqlite:///{tmp_path}/baton.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    finally:
        conn.close()
    assert (tmp_path / "baton.db").exists()


def test_a_missing_directory_is_reported_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="nowhere"):
        open_sqlite(tmp_path / "nowhere" / "baton.db")


def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        open_sqlite(junk)


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    conn = open_sqlite(tmp_path / "baton.db")
    try:
        assert migrate(conn) == [m.version for m in MIGRATIONS]
        assert migrate(conn) == []
        assert applied_versions(conn) == [m.version for m in MIGRATIONS]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"jobs", "deliveries", "schema_migrations"} <= names
    finally:
        conn.close()
    # A second process opening the same file finds nothing to do.
    again = open_sqlite(tmp_path / "baton.db")
    try:
        assert migrate(again) == []
    finally:
        again.close()


def test_appended_migrations_apply_after_the_recorded_ones(memory: sqlite3.Connection) -> None:
    conn = memory
    migrate(conn)
    extra = Migration(version=len(MIGRATIONS) + 1, name="notes", sql="CREATE TABLE notes (x);")
    assert migrate(conn, [*MIGRATIONS, extra]) == [extra.version]
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    assert applied_versions(conn)[-1] == extra.version


def test_a_failing_migration_leaves_nothing_behind(memory: sqlite3.Connection) -> None:
    conn = memory
    broken = Migration(
        version=1,
        name="half",
        sql="CREATE TABLE half (x);\nINSERT INTO missing VALUES (1);\n",
    )
    with pytest.raises(sqlite3.OperationalError, match="missing"):
        migrate(conn, [broken])
    assert applied_versions(conn) == []
    tables = conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchall()
    assert tables == []


def test_a_database_from_a_newer_baton_is_refused(memory: sqlite3.Connection) -> None:
    conn = memory
    migrate(conn, [*MIGRATIONS, Migration(version=99, name="future", sql="SELECT 1;")])
    with pytest.raises(MigrationError, match="newer"):
        migrate(conn)


@pytest.mark.parametrize("versions", [[2, 1], [1, 1], [0]])
def test_migration_lists_must_be_ordered(versions: list[int], memory: sqlite3.Connection) -> None:
    migrations = [Migration(version=v, name=f"m{v}", sql="SELECT 1;") for v in versions]
    with pytest.raises(MigrationError, match="increasing"):
        migrate(memory, migrations)


def test_the_schema_enforces_the_queue_promises(memory: sqlite3.Connection) -> None:
    conn = memory
    migrate(conn)
    insert = (
        "INSERT INTO jobs (task, args, status, lock, dedupe_key, max_attempts, created_at,"
        " scheduled_at) VALUES ('t', '{}', ?, ?, ?, 1, 0, 0)"
    )
    conn.execute(insert, ("queued", None, "k"))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, ("queued", None, "k"))
    conn.execute(insert, ("running", "o/r#1", None))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, ("running", "o/r#1", None))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, ("paused", None, None))
    with pytest.raises(sqlite3.IntegrityError):  # foreign keys are on
        conn.execute("INSERT INTO deliveries (id, received_at, job_id) VALUES ('d', 0, 999)")


def test_transactions_commit_or_roll_back_as_a_whole(memory: sqlite3.Connection) -> None:
    conn = memory
    conn.execute("CREATE TABLE t (x)")
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")

    def insert_then_fail() -> None:
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (2)")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        insert_then_fail()
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    with transaction(conn), pytest.raises(StoreError, match="nest"), transaction(conn):
        pass


def test_scripts_split_into_statements_with_triggers_kept_whole() -> None:
    script = """
-- a table; and its trigger
CREATE TABLE t (x);
CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
    UPDATE t SET x = x + 1;
END;
-- trailing comment
"""
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].endswith("END;")
    with pytest.raises(MigrationError, match="unterminated"):
        split_statements("CREATE TABLE t (x)")
