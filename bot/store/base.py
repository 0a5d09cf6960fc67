"""The Store protocol and its values: the ledger's runs, their event log, spend and claims.

What the app codes against, whatever the database: `bot.store.sqlite` implements it, and a
PostgreSQL store joins by passing `tests/store/test_store_contract.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from adapters.base import RunStatus
from bot.store.pulls import PullEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

# Kept for old imports: the statuses are `adapters.base.RunStatus`, one enum for all of them.
QUEUED, RUNNING, REFUSED = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.REFUSED


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One durable row per agent run: who asked, which agent and model, tokens, cost."""

    id: str
    job_id: int | None
    repo: str
    number: int
    trigger: str
    verb: str
    requester: str
    status: str
    created_at: float
    is_pull_request: bool = False
    agent: str = ""
    adapter: str = ""
    model: str = ""
    harness_version: str = ""
    branch: str = ""
    pr_number: int | None = None
    pr_url: str = ""
    commit_sha: str = ""
    # The remote branch head the run's push expects to replace ("" for a new branch).
    lease_sha: str = ""
    # The branch head a fresh retry replaced; it stays reachable as `render.previous_tag`.
    replaced_sha: str = ""
    comment_id: int | None = None
    check_run_id: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    turns: int = 0
    cost_usd: float | None = None
    cost_source: str = "unknown"
    price_date: str | None = None
    summary: str = ""
    error: str = ""
    session_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float | None = None
    network: str = ""  # the agent's sandbox network: "none" or "host"
    # The label the run was routed by (`agent:fix`; a command routes like the fix label).
    label: str = ""

    def with_(self, **changes: Any) -> RunRecord:
        return dataclasses.replace(self, **changes)


RUN_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RunRecord))


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One entry of a run's event log. `seq` counts from 1 per run, in the order the store
    accepted the events; `time` is the appending store's clock; `data` is a JSON object."""

    run_id: str
    seq: int
    time: float
    kind: str
    data: dict[str, Any]


class Store(Protocol):
    """Baton's durable state. Every method is safe to call from the event loop: none blocks it.

    Runs are ordered by `created_at` (oldest first) unless a method says otherwise.
    """

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def save_run(self, record: RunRecord, *, only_its_comment: bool = False) -> None:
        """Insert or update the run's row. A stored `comment_id` is never replaced by None (a
        writer that has not seen the status comment cannot forget it). `only_its_comment`: a row
        that exists already (its run has started) takes just the comment id, if it has none."""
        ...

    async def runs_for_target(self, repo: str, number: int) -> list[RunRecord]:
        """The runs started on issue or PR `number`."""
        ...

    async def runs_for_pull(self, repo: str, pr_number: int) -> list[RunRecord]:
        """The runs that opened PR `pr_number` or were started on it."""
        ...

    async def recent_runs(self, limit: int = 20, repo: str | None = None) -> list[RunRecord]:
        """The newest `limit` runs, newest first."""
        ...

    async def list_runs(
        self,
        *,
        repo: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs created in `[since, until)`, newest first, at most `limit` of them."""
        ...

    async def spend(
        self,
        *,
        since: float,
        until: float | None = None,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> float:
        """Dollars of the runs created in `[since, until)` with a known cost, by repo, by
        org/owner (`owner/*`) and by requester; the filters given all apply."""
        ...

    async def append_event(
        self, run_id: str, kind: str, data: Mapping[str, Any] | None = None
    ) -> RunEvent:
        """Append to the run's log with the next sequence number, even with other writers (other
        tasks, other processes) appending at once. `data` must be JSON-serialisable."""
        ...

    async def events(self, run_id: str, *, after_seq: int = 0) -> list[RunEvent]:
        """The run's events with `seq > after_seq`, in sequence order."""
        ...

    async def add_pull_event(self, event: PullEvent) -> bool:
        """Record a fact about one of Baton's pull requests; False (and nothing written) when
        the repository has a fact under its key already (a redelivery, a retried job)."""
        ...

    async def pull_events(
        self, *, repo: str | None = None, number: int | None = None, since: float | None = None
    ) -> list[PullEvent]:
        """The facts of one repository (or all), of one pull request (or all), with `at >=
        since`, oldest first (by `at`, then in the order they were recorded)."""
        ...

    async def claim(self, key: str, owner: str, *, ttl_s: float) -> bool:
        """Take `key` for `owner` until `ttl_s` from now, across processes: False while another
        owner holds it unexpired. The holder claiming again extends its hold."""
        ...

    async def release(self, key: str, owner: str) -> bool:
        """Give `key` back; False if `owner` did not hold it (expired and taken, or never)."""
        ...

    async def schema_current(self) -> bool:
        """Whether the database answers and holds exactly the migrations this Baton knows
        (raises StoreError when it cannot be reached)."""
        ...

    async def close(self) -> None: ...


@contextlib.asynccontextmanager
async def claimed(
    store: Store, key: str, *, owner: str, ttl_s: float, poll_s: float = 0.05
) -> AsyncIterator[None]:
    """Hold `key` for the block, waiting while another owner holds it (`poll_s` between tries).

    For work that must happen once across processes, such as creating a run's status comment:
    inside the block, read what the previous holder stored before doing the work again. Keep the
    block shorter than `ttl_s`: past it, another owner may take the key.
    """
    # Polled: the holder may be another process, which no asyncio.Event can hear.
    while not await store.claim(key, owner, ttl_s=ttl_s):  # noqa: ASYNC110
        await asyncio.sleep(poll_s)
    try:
        yield
    finally:
        await store.release(key, owner)
