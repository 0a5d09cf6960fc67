"""Logging with the delivery id, run id, repository and agent bound into every line of the work
they belong to; text on a terminal, or one JSON object per line (`BATON_LOG_FORMAT=json`)."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Literal

LogFormat = Literal["text", "json"]
FIELDS = ("delivery", "run", "repo", "agent")
_vars: dict[str, contextvars.ContextVar[str]] = {
    name: contextvars.ContextVar(name, default="-") for name in FIELDS
}


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            setattr(record, name, var.get())
        return True


@contextlib.contextmanager
def bound(
    *,
    delivery: str | None = None,
    run: str | None = None,
    repo: str | None = None,
    agent: str | None = None,
) -> Iterator[None]:
    """Bind ids for the log lines written inside this block (and tasks started from it)."""
    given = {"delivery": delivery, "run": run, "repo": repo, "agent": agent}
    tokens = [(_vars[k], _vars[k].set(v)) for k, v in given.items() if v is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids that are known, and
    the traceback of an exception (secrets are masked before this, by the runtime's filter)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, "-")
            if value != "-":
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str = "INFO", fmt: LogFormat = "text") -> None:
    """Called by the CLI entry points only: nothing is configured at import time."""
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [delivery=%(delivery)s run=%(run)s "
            "repo=%(repo)s agent=%(agent)s] %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # githubkit logs retried requests with full tracebacks; ours say what happened instead.
    logging.getLogger("githubkit").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
