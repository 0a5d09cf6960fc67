"""What the dashboard and `/metrics` read from the store: a filtered page of runs, the spend of
each run, tallies per agent and outcome, and counts that worker processes add up."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.store.base import RunRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class RunQuery:
    """Which runs to list, newest first. `repos` is what the reader may see: None is every
    repository (an operator), an empty set is none at all; the other filters narrow it."""

    repos: frozenset[str] | None = None
    repo: str | None = None
    agent: str | None = None
    status: str | None = None
    requester: str | None = None
    label: str | None = None
    since: float | None = None
    until: float | None = None
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of a query's runs, and how many runs the whole query matches."""

    runs: list[RunRecord]
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendRow:
    """One run as spend charts count it (`cost_usd` None: its cost is unknown)."""

    repo: str
    agent: str
    requester: str
    created_at: float
    cost_usd: float | None
    cost_source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTally:
    """The finished runs of one agent with one outcome: how many, their tokens, and how their
    durations and costs fall into buckets (`*_le[i]`: runs at or below `buckets[i]`, cumulative,
    as Prometheus histograms count)."""

    agent: str
    status: str
    runs: int
    tokens: dict[str, int] = field(default_factory=dict)
    duration_count: int = 0
    duration_sum: float = 0.0
    duration_le: tuple[int, ...] = ()
    cost_count: int = 0
    cost_sum: float = 0.0
    cost_le: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricValue:
    """A count a process added to (or a gauge it set) in the shared database, by name and
    labels, so the process serving `/metrics` reports what every worker did."""

    name: str
    labels: dict[str, str]
    value: float
    updated_at: float


TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")


def labels_key(labels: Mapping[str, str]) -> str:
    """The labels of a metric value as the store keys them: JSON with sorted keys."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))
