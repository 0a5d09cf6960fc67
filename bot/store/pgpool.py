"""One pool of PostgreSQL connections per process, shared by its store and its job queue."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import psycopg
import psycopg_pool
from psycopg.rows import TupleRow

from bot.store.errors import StoreUnavailable
from bot.store.url import postgres_conninfo, shown

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

Connection = psycopg.AsyncConnection[TupleRow]
Pool = psycopg_pool.AsyncConnectionPool[Connection]

# Below GitHub's 10 s delivery timeout: while the database is away a webhook is answered 503
# (GitHub keeps it for redelivery) before GitHub gives up on it.
CONNECT_WAIT_S = 5.0


def make_pool(
    url: str, *, max_size: int, min_size: int = 1, wait_s: float = CONNECT_WAIT_S
) -> Pool:
    """A pool for `url`, not yet open (`await open_pool(pool)`). Connections are in autocommit
    mode: statements that belong together run in `conn.transaction()`."""
    pool: Pool = psycopg_pool.AsyncConnectionPool(
        postgres_conninfo(url),
        min_size=min(min_size, max_size),
        max_size=max_size,
        open=False,
        timeout=wait_s,
        # A connection the server dropped (a restart) is replaced before anyone gets it.
        check=psycopg_pool.AsyncConnectionPool.check_connection,
        # Through `configure`, not `kwargs`: procrastinate opens its LISTEN connection with the
        # pool's kwargs plus its own autocommit=True, and one keyword cannot be given twice.
        configure=_autocommit,
        name=f"baton {shown(url)}",
    )
    return pool


async def _autocommit(conn: Connection) -> None:
    await conn.set_autocommit(True)


async def open_pool(pool: Pool, *, wait_s: float = CONNECT_WAIT_S) -> None:
    """Open the pool, failing with StoreUnavailable when the server does not answer in time.

    One direct connection first: a server that refuses says why at once, in one line, instead
    of the pool retrying (and logging each failure) until its wait is over."""
    try:
        probe = await psycopg.AsyncConnection.connect(
            conninfo(pool), connect_timeout=max(1, int(wait_s))
        )
    except psycopg.OperationalError as exc:
        where = pool.name.removeprefix("baton ")
        raise StoreUnavailable(f"cannot reach {where}: {first_line(exc)}") from exc
    await probe.close()
    try:
        await pool.open(wait=True, timeout=wait_s)
    except psycopg_pool.PoolTimeout as exc:
        await pool.close()
        raise StoreUnavailable(
            f"PostgreSQL at {pool.name.removeprefix('baton ')} did not answer within "
            f"{wait_s:.0f}s: is it running, and may this user connect?"
        ) from exc


@contextlib.asynccontextmanager
async def connection(pool: Pool) -> AsyncIterator[Connection]:
    """A connection of the pool; the database being away is StoreUnavailable, whatever the step."""
    try:
        async with pool.connection() as conn:
            yield conn
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
        raise StoreUnavailable(f"the database does not answer: {first_line(exc)}") from exc


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def conninfo(pool: Pool) -> str:
    """The pool's connection string, for the one connection that lives outside it (LISTEN)."""
    info = pool.conninfo
    if not isinstance(info, str):
        raise TypeError("Baton's pools are made with a connection string")
    return info
