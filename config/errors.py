"""The root of Baton's own exceptions (in `config`, the package every other one may import).

Everything Baton raises on purpose is a `BatonError`, so the run's outermost boundary can tell an
error it foresaw (reported to the user as it is) from a bug (reported with the run id, logged
with its traceback, and re-raised).
"""

from __future__ import annotations


class BatonError(Exception):
    """An error Baton raises on purpose; its message is safe to show (it never holds a secret)."""
