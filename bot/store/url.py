"""What `BATON_DATABASE_URL` names: a SQLite file (the embedded default) or a PostgreSQL server."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.store.errors import StoreError

_POSTGRES_SCHEMES = ("postgresql", "postgres")


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class DatabaseUrlError(StoreError):
    """`BATON_DATABASE_URL` names no database Baton can use; the message says what to write."""


def dialect_of(url: str) -> Dialect:
    """The database kind a URL names; a plain path is a SQLite file, as it always was."""
    if "://" not in url:
        return Dialect.SQLITE
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        return Dialect.SQLITE
    if scheme in _POSTGRES_SCHEMES:
        return Dialect.POSTGRESQL
    raise DatabaseUrlError(
        f"database URL scheme {scheme!r} is not one Baton uses: write sqlite:///path/baton.db "
        "(one server) or postgresql://user@host:5432/baton (many servers and workers)"
    )


def postgres_conninfo(url: str) -> str:
    """The URL as libpq takes it (`postgres://` is the same thing under its old name).

    The client encoding is UTF-8 unless the URL says otherwise: on a database created as
    SQL_ASCII (initdb's default under the C locale) the server would otherwise report SQL_ASCII
    and psycopg would hand back bytes where Baton reads text."""
    if dialect_of(url) is not Dialect.POSTGRESQL:
        raise DatabaseUrlError(f"not a PostgreSQL URL: {shown(url)}")
    rest = url.split("://", 1)[1]
    if not urlsplit(url).path.strip("/"):
        raise DatabaseUrlError(
            f"{shown(url)} names no database: write postgresql://user@host:5432/baton"
        )
    parts = urlsplit("postgresql://" + rest)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name == "client_encoding" for name, _ in query):
        query.append(("client_encoding", "UTF8"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def shown(url: str) -> str:
    """The URL without its password, for logs and messages (the user name stays: it helps)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
