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
    from collections.abc import AsyncIterator, Mapping, Sequence

    from bot.store.views import MetricValue, RunPage, RunQuery, RunTally, SpendRow

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
    label: str = ""  # the trigger label ("" for a command): runs alike for the history estimate
    cost_cap_usd: float | None = None  # the dollar cap the run ran under (None: no cap)
    cost_cap_by: str = ""  # which key or budget set that cap, and where, for people to read

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


@dataclass(frozen=True, slots=True)
class Reservation:
    """A running run's cost cap held against the monthly budgets of its repository, its owner
    and its requester until it ends (or `expires_at`, should its worker die)."""

    run_id: str
    repo: str
    owner: str
    requester: str
    amount_usd: float
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class BudgetCap:
    """A monthly cap as the last run under it saw it: `scope` is `repo`, `org` or `requester`,
    `name` the repository, owner or login; `limit_usd` None when no layer sets one."""

    scope: str
    name: str
    limit_usd: float | None
    source: str  # which layer set it, e.g. "repo file .agents.yml:4:3"
    seen_at: float


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Runs' costs kept apart by where each figure came from."""

    reported_usd: float = 0.0  # the CLI said so
    priced_usd: float = 0.0  # tokens x the price table
    unknown_runs: int = 0  # agent runs whose cost nobody knows
    runs: int = 0  # agent runs counted

    @property
    def known_usd(self) -> float:
        return self.reported_usd + self.priced_usd


@dataclass(frozen=True, slots=True)
class RemovedRepo:
    """A repository an installation lost (uninstalled, suspended, or deselected) and when."""

    repo: str
    installation_id: int
    reason: str
    removed_at: float


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one periodic cleanup of the store deleted."""

    events: int = 0
    removed_repos: int = 0
    claims: int = 0


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

    async def cost_breakdown(
        self,
        *,
        since: float,
        until: float | None = None,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> CostBreakdown:
        """The runs `spend` counts, with reported and priced dollars apart, and the agent runs
        (those with an agent) whose cost is unknown counted."""
        ...

    async def history(
        self, *, repo: str, agent: str, label: str, verb: str, limit: int
    ) -> list[RunRecord]:
        """The newest `limit` runs of `agent` on `repo` that ended after the agent ran (success,
        failed, timed out, stopped at budget) with a known cost and duration, newest first:
        those with the same `label` when it is not empty, else command runs of the same `verb`."""
        ...

    async def reserve(self, reservation: Reservation) -> None:
        """Hold (or replace) the run's reservation."""
        ...

    async def release_reservation(self, run_id: str) -> bool:
        """Drop the run's reservation (its row's cost counts from now on); False if none."""
        ...

    async def held(
        self,
        *,
        now: float,
        repo: str | None = None,
        owner: str | None = None,
        requester: str | None = None,
    ) -> float:
        """Dollars the unexpired reservations still hold, by repo, owner or requester: each its
        amount less what its run's row has cost so far, never below zero."""
        ...

    async def expire_reservations(self, *, now: float) -> int:
        """Drop reservations whose time is past (their run's worker died); how many."""
        ...

    async def record_cap(self, cap: BudgetCap) -> None:
        """Remember the monthly cap a scope last ran under (replacing the one before)."""
        ...

    async def budget_caps(self) -> list[BudgetCap]:
        """Every remembered cap, ordered by scope and name."""
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

    async def query_runs(self, query: RunQuery) -> RunPage:
        """The page of runs `query` asks for (newest first) and how many match in all."""
        ...

    async def spend_rows(
        self, *, repos: frozenset[str] | None, since: float | None = None
    ) -> list[SpendRow]:
        """Every run created since `since` in `repos` (None: all), newest first, as spend
        charts count them."""
        ...

    async def run_tallies(
        self, *, duration_buckets: Sequence[float], cost_buckets: Sequence[float]
    ) -> list[RunTally]:
        """Finished runs (any status but queued and running) per agent and status, with their
        durations and costs counted into these bucket bounds (ascending)."""
        ...

    async def record_metrics(
        self,
        *,
        add: Mapping[tuple[str, str], float] | None = None,
        set_to: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        """In one transaction, add to counts and set gauges, keyed by (name, labels as JSON
        with sorted keys); other processes' additions to the same key are never lost."""
        ...

    async def metric_values(self) -> list[MetricValue]:
        """Every count and gauge recorded, by name then labels."""
        ...

    async def claim(self, key: str, owner: str, *, ttl_s: float) -> bool:
        """Take `key` for `owner` until `ttl_s` from now, across processes: False while another
        owner holds it unexpired. The holder claiming again extends its hold."""
        ...

    async def release(self, key: str, owner: str) -> bool:
        """Give `key` back; False if `owner` did not hold it (expired and taken, or never)."""
        ...

    async def prune(self, *, events_before: float, removed_repos_before: float) -> Pruned:
        """Delete run events older than `events_before`, removal records older than
        `removed_repos_before`, and expired claims (the periodic cleanup; ledger rows stay)."""
        ...

    async def record_removed(
        self, repos: Sequence[str], *, installation_id: int, reason: str
    ) -> None:
        """Remember that `installation_id` lost these repositories now (the store's clock); a
        repository recorded again gets the new time and reason."""
        ...

    async def removed_repos(self, *, since: float = 0.0) -> list[RemovedRepo]:
        """Removals recorded at or after `since`, oldest first."""
        ...

    async def purge_installation(self, installation_id: int) -> int:
        """Delete the ledger rows and events of every repository recorded as removed from
        `installation_id`; return how many runs were deleted."""
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
