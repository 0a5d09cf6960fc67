"""The store's errors, in a module of their own so every backend can raise them."""

from __future__ import annotations

from config.errors import BatonError


class StoreError(BatonError):
    """The database cannot be opened or is not one this Baton can use; the message says why."""


class MigrationError(StoreError):
    """The migrations or the database's recorded schema versions are inconsistent."""


class StoreUnavailable(StoreError):
    """The database does not answer right now (a restart, a network cut): try again later."""
