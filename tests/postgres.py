"""PostgreSQL for tests: the shared server on 127.0.0.1:5432 (started here when it is installed
but not running), a database of the test's own (made from a migrated template, dropped after),
and private clusters (`initdb`, run as the `postgres` user) for tests that stop the server.

Skips only when PostgreSQL cannot be had on this machine, and says why and what to install.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
ADMIN_URL = f"postgresql://{USER}@{HOST}:{PORT}/postgres"
_START_TIMEOUT_S = 30.0


def url_of(database: str, *, port: int = PORT) -> str:
    return f"postgresql://{USER}@{HOST}:{port}/{database}"


def _answers(url: str = ADMIN_URL) -> str | None:
    """None when the server takes a connection, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def bin_dir() -> Path | None:
    """Where PostgreSQL's server programs are (`initdb`, `pg_ctl`, `postgres`), if installed."""
    found = shutil.which("pg_ctl") or shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _start_shared() -> str | None:
    """Start the installed server on 5432 (Debian's cluster); None once it answers, else why."""
    if shutil.which("pg_lsclusters") and shutil.which("pg_ctlcluster"):
        listed = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
        ).stdout
        for line in listed.splitlines():
            version, name, port, status, *_ = line.split()
            if port == str(PORT) and status != "online":
                subprocess.run(["pg_ctlcluster", version, name, "start"], check=False)
    deadline = time.monotonic() + _START_TIMEOUT_S
    why = _answers()
    while why is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        why = _answers()
    return why


@functools.cache
def shared_server() -> str | None:
    """None when the shared server answers (started if needed), else the reason to skip."""
    why = _answers()
    if why is None:
        return None
    if bin_dir() is None:
        return (
            f"PostgreSQL is not installed and 127.0.0.1:{PORT} does not answer ({why}): "
            "install it with `apt-get install postgresql` (see README, 'PostgreSQL')"
        )
    why = _start_shared()
    if why is None:
        return None
    return (
        f"PostgreSQL is installed but does not answer on {HOST}:{PORT} as user {USER} without "
        f"a password ({why}), and could not be started here: start it (pg_ctlcluster 15 main "
        "start) and allow local trust authentication for user postgres"
    )


def require_server() -> None:
    why = shared_server()
    if why is not None:
        pytest.skip(why)


def _admin(sql: str, url: str = ADMIN_URL) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())


@functools.cache
def _template() -> str:
    """A database holding Baton's migrated schema, made once per test process: a test's own
    database is a copy of it (much faster than migrating each one)."""
    import asyncio  # noqa: PLC0415

    from bot.store import pgschema  # noqa: PLC0415

    _drop_orphans()
    name = f"baton_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _admin(f'CREATE DATABASE "{name}"')

    async def migrate() -> None:
        async with await psycopg.AsyncConnection.connect(url_of(name), autocommit=True) as conn:
            await pgschema.migrate(conn)

    # Its own thread and loop: the caller may be a fixture running on the test's loop.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, migrate()).result()

    atexit.register(_drop, name)
    return name


def _drop_orphans() -> None:
    """Databases a test process that was killed left on the shared server (their pid is gone)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname ~ '^baton_(tpl|test)_[0-9]+_'"
        ).fetchall()
    for (name,) in names:
        pid = int(str(name).split("_")[2])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _drop(str(name))
        except PermissionError:
            continue  # another user's process: alive


def _drop(name: str) -> None:
    with contextlib.suppress(psycopg.Error):
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def database(*, migrated: bool = True, sql_ascii: bool = False) -> Iterator[str]:
    """A database of the caller's own on the shared server; its URL. Dropped afterwards.

    `sql_ascii`: an empty database in the encoding initdb gives under the C locale."""
    require_server()
    name = f"baton_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    template = f' TEMPLATE "{_template()}"' if migrated else ""
    if sql_ascii:
        template = " TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'"
    _admin(f'CREATE DATABASE "{name}"{template}')
    try:
        yield url_of(name)
    finally:
        _drop(name)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated database of this test's own on the shared server."""
    with database() as url:
        yield url


# ------------------------------------------------------------------ private clusters


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the `postgres` user."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as its own user")
    return [runuser, "-u", USER, "--", *argv]


@dataclass
class PrivateCluster:
    """A PostgreSQL server of the test's own (never the shared one), which it may stop."""

    data: Path
    port: int
    bin: Path
    # More `-c name=value` settings (the bench logs every statement with its client's name).
    settings: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return url_of("baton", port=self.port)

    def _ctl(self, *args: str) -> None:
        argv = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args]
        subprocess.run(_as_postgres(argv), check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses={HOST} -c fsync=off"
        options += "".join(f" -c {setting}" for setting in self.settings)
        self._ctl("-o", options, "-l", str(self.data / "server.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def private_cluster(*, settings: tuple[str, ...] = ()) -> Iterator[PrivateCluster]:
    """`initdb` a cluster in a temporary folder owned by `postgres`, start it on a free port with
    a `baton` database, and remove it all afterwards."""
    binaries = bin_dir()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): no initdb here")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot run initdb as the postgres user")
    parent = Path(tempfile.mkdtemp(prefix="baton-pg-"))
    data = parent / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(parent, USER)
        shutil.chown(data, USER)
    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8"]
    subprocess.run(_as_postgres([*initdb, "--no-sync"]), check=True, capture_output=True)
    cluster = PrivateCluster(data=data, port=_free_port(), bin=binaries, settings=settings)
    cluster.start()
    try:
        _admin('CREATE DATABASE "baton"', url_of("postgres", port=cluster.port))
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
        shutil.rmtree(parent, ignore_errors=True)
