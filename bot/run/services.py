"""What a run needs, handed in by the app factory (nothing is imported as a global)."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.runner import Runner, SandboxRunner
from bot.outbound import Outbound
from bot.store.base import claimed
from bot.telemetry.observer import NoObserver, RunObserver
from config.guard import Operator

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot import workspaces
    from bot.github import GitHubApp
    from bot.queue import JobQueue
    from bot.store.base import Store
    from config.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    github: GitHubApp
    store: Store
    workspaces: workspaces.Workspaces
    server_env: Mapping[str, str]
    # What the operator lets configs reach (variables, endpoints): from settings, once.
    operator: Operator = field(default_factory=Operator)
    # The scanner of the server's own secrets, for the push and every text sent to GitHub.
    outbound: Outbound = field(default_factory=Outbound)
    # Where agent processes and the repository's `verify` run: chosen once, from settings.
    runner: Runner = field(default_factory=SandboxRunner)
    # The clock monthly budgets are counted by (a test's own, in tests).
    clock: Callable[[], float] = time.time
    # Hears every event of every run (metrics, traces): see bot/telemetry/observer.py.
    observer: RunObserver = field(default_factory=NoObserver)
    # Where a run waiting out the org's pause queues itself again (None: it cannot wait).
    queue: JobQueue | None = None


STATUS_CLAIM_TTL_S = 60.0


def status_claim(services: Services, run_id: str) -> contextlib.AbstractAsyncContextManager[None]:
    """Held while a run's status comment may be created: the run and the job acknowledging it
    while it waits may be in different processes, so the claim is a row of the store."""
    owner = f"{os.getpid()}-{uuid.uuid4().hex}"
    return claimed(services.store, f"status:{run_id}", owner=owner, ttl_s=STATUS_CLAIM_TTL_S)
