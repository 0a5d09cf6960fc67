"""What a run needs, handed in by the app factory (nothing is imported as a global)."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.outbound import Outbound
from config.guard import Operator

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot import gitops
    from bot.github import GitHubApp
    from bot.ledger import Ledger
    from config.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    github: GitHubApp
    ledger: Ledger
    workspaces: gitops.Workspaces
    server_env: Mapping[str, str]
    # What the operator lets configs reach (variables, endpoints): from settings, once.
    operator: Operator = field(default_factory=Operator)
    # The scanner of the server's own secrets, for the push and every text sent to GitHub.
    outbound: Outbound = field(default_factory=Outbound)
    # One status comment per run: its creation is serialized between the run and the job that
    # acknowledges it while it waits (both run in this worker process).
    # Weak values: a lock nobody holds is dropped, so finished runs leave nothing behind.
    _status_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary, repr=False
    )

    def status_lock(self, run_id: str) -> asyncio.Lock:
        lock = self._status_locks.get(run_id)
        if lock is None:
            lock = self._status_locks[run_id] = asyncio.Lock()
        return lock
