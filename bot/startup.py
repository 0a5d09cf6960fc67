"""Starting `serve` and `worker` cleanly: the settings checked before anything starts, and what
`serve` tells about itself once it listens (never a secret)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from adapters import toolchain
from adapters.sandbox import SandboxStatus, sandbox_status
from bot.database import startup_problem
from bot.store.db import MEMORY, StoreError, sqlite_path
from bot.store.url import Dialect, dialect_of, shown
from config.settings import SettingsError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from config.settings import Settings


def database_problem(url: str) -> str | None:
    """Why the database named by `url` cannot be used, or None. A SQLite file is made (with its
    folder and schema), as the server would a moment later; PostgreSQL is only read: its schema
    must be current (`baton db upgrade`)."""
    try:
        problem = startup_problem(url)
    except StoreError as exc:
        problem = str(exc)
    return None if problem is None else f"BATON_DATABASE_URL={shown(url)}: {problem}"


def check(settings: Settings) -> None:
    """Raise SettingsError, one line naming every problem, unless the server can start."""
    problems = settings.server_problems()
    # A database is only worth trying once the credentials are right: nothing is created then.
    if not problems and (problem := database_problem(settings.database_url)) is not None:
        problems.append(problem)
    if problems:
        hint = ""
        if any(p.startswith("missing ") for p in problems):
            hint = " (`baton register` registers a GitHub App and writes them to ./.env)"
        raise SettingsError("cannot start: " + "; ".join(problems) + hint)


@dataclass(frozen=True, slots=True)
class Surroundings:
    """What this machine offers the server's runs, found once at startup."""

    sandbox: SandboxStatus | None  # None: BATON_SANDBOX=none, not probed
    agents: Mapping[str, toolchain.Found]


async def survey(settings: Settings, env: Mapping[str, str] | None = None) -> Surroundings:
    """Probe the sandbox (unless it is off) and look for each agent CLI, as `baton agents`."""
    names = list(toolchain.HARNESSES)
    prefix = toolchain.default_prefix(env)
    found = await asyncio.gather(*(toolchain.find(n, prefix, env=env) for n in names))
    sandbox = await sandbox_status() if settings.sandbox == "bubblewrap" else None
    return Surroundings(sandbox=sandbox, agents=dict(zip(names, found, strict=True)))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _database(url: str) -> str:
    if dialect_of(url) is Dialect.POSTGRESQL:
        return f"{_without_credentials(url)} (PostgreSQL)"
    path = sqlite_path(url)
    plain = _without_credentials(url)
    return plain if path == MEMORY else f"{plain} ({Path(path).resolve()})"


def serve_lines(settings: Settings, found: Surroundings) -> list[str]:
    """The lines `serve` logs once up, besides the address it listens on."""
    worker = {
        "process": "worker: process (jobs run in a child `baton worker`)",
        "inline": "worker: inline (jobs run on the server's own event loop)",
        "none": "worker: none (this server only accepts and enqueues; `baton worker` runs jobs)",
    }[settings.worker]
    if found.sandbox is None:
        sandbox = "sandbox: off (BATON_SANDBOX=none): agents run unsandboxed"
    elif found.sandbox.ok:
        sandbox = "sandbox: bubblewrap available"
    else:
        sandbox = f"sandbox: unavailable: {found.sandbox.reason}"
    present = [
        f"{name} {f.version or '?'}" for name, f in found.agents.items() if f.path is not None
    ]
    absent = [name for name, f in found.agents.items() if f.path is None]
    agents = "agent CLIs: " + (", ".join(present) if present else "none found")
    if absent:
        agents += f" (not found: {', '.join(absent)}; `baton agents install NAME`)"
    return [
        f"GitHub: {_without_credentials(settings.github_url)} (app id {settings.app_id})",
        f"database: {_database(settings.database_url)}",
        worker,
        sandbox,
        agents,
    ]
