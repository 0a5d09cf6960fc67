"""Logging with the delivery id and run id bound into every line of the work they belong to."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

_delivery: contextvars.ContextVar[str] = contextvars.ContextVar("delivery", default="-")
_run: contextvars.ContextVar[str] = contextvars.ContextVar("run", default="-")


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.delivery = _delivery.get()
        record.run = _run.get()
        return True


@contextlib.contextmanager
def bound(*, delivery: str | None = None, run: str | None = None) -> Iterator[None]:
    """Bind ids for the log lines written inside this block (and tasks started from it)."""
    tokens = []
    if delivery is not None:
        tokens.append((_delivery, _delivery.set(delivery)))
    if run is not None:
        tokens.append((_run, _run.set(run)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def configure(level: str = "INFO") -> None:
    """Called by the CLI entry points only: nothing is configured at import time."""
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [delivery=%(delivery)s run=%(run)s] %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # githubkit logs retried requests with full tracebacks; ours say what happened instead.
    logging.getLogger("githubkit").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
