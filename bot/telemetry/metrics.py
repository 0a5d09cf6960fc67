"""`/metrics` in Prometheus' text format, built with prometheus-client.

Why the store and not prometheus-client's multiprocess mode: runs are executed by `baton
worker` processes (a child of `baton serve` by default, or many on other machines with the
PostgreSQL queue), and the multiprocess mode only adds up processes that share one directory on
one machine, loses every count when that directory is cleared at a restart, and needs its
environment set before the library is first imported. The ledger already holds every run of
every worker, durably: runs by agent and outcome, durations, costs and tokens are read from it
at each scrape, and the queue's depth from the jobs table. What no table holds (GitHub calls,
the rate limit, agent process failures) each process tallies and adds to the store every few
seconds (`bot.telemetry.tally`). Deliveries arrive only at the web process that serves
`/metrics`, so it counts them itself.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from bot.queue import JobStatus
from bot.store.views import TOKEN_KINDS
from bot.telemetry.tally import AGENT_FAILURES, GITHUB_CALLS, RATE_REMAINING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bot.queue import JobQueue
    from bot.store.base import Store
    from bot.store.views import MetricValue, RunTally

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
COST_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
# GitHub's rate limits reset every hour: a remaining count older than that says nothing now (an
# installation Baton no longer calls, one that was removed).
RATE_FRESH_S = 3600.0
_HELP = {
    GITHUB_CALLS: "Requests Baton made to GitHub's REST API, by method and HTTP status.",
    RATE_REMAINING: (
        "The lowest rate-limit remaining GitHub reported in the last few seconds, per "
        "installation (app: the App's own requests) and resource."
    ),
    AGENT_FAILURES: "Agent CLI processes that ended without a result, by agent and status.",
}


class _Snapshot:
    """What one scrape read from the store and the queue, turned into metric families."""

    def __init__(self) -> None:
        self.tallies: list[RunTally] = []
        self.values: list[MetricValue] = []
        self.queued = 0
        self.running = 0
        self.oldest_age_s = 0.0

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "baton_runs", "Finished runs by agent and outcome.", labels=["agent", "status"]
        )
        tokens = CounterMetricFamily(
            "baton_tokens", "Tokens of finished runs by agent and kind.", labels=["agent", "kind"]
        )
        duration = HistogramMetricFamily(
            "baton_run_duration_seconds",
            "Agent time of finished runs.",
            labels=["agent", "status"],
            unit="",
        )
        cost = HistogramMetricFamily(
            "baton_run_cost_usd",
            "Cost of finished runs whose cost is known (USD).",
            labels=["agent", "status"],
        )
        token_sums: dict[tuple[str, str], int] = {}
        for t in self.tallies:
            agent = t.agent or "none"
            runs.add_metric([agent, t.status], t.runs)
            for kind in TOKEN_KINDS:
                token_sums[(agent, kind)] = token_sums.get((agent, kind), 0) + t.tokens[kind]
            duration.add_metric(
                [agent, t.status],
                _buckets(DURATION_BUCKETS, t.duration_le, t.duration_count),
                sum_value=t.duration_sum,
            )
            cost.add_metric(
                [agent, t.status],
                _buckets(COST_BUCKETS, t.cost_le, t.cost_count),
                sum_value=t.cost_sum,
            )
        for (agent, kind), value in sorted(token_sums.items()):
            tokens.add_metric([agent, kind], value)
        yield from (runs, tokens, duration, cost)
        yield GaugeMetricFamily("baton_queue_depth", "Jobs waiting to run.", value=self.queued)
        yield GaugeMetricFamily("baton_queue_running", "Jobs running now.", value=self.running)
        yield GaugeMetricFamily(
            "baton_queue_oldest_age_seconds",
            "Age of the oldest queued job (0: none waits).",
            value=self.oldest_age_s,
        )
        yield from self._recorded()

    def _recorded(self) -> Iterator[Metric]:
        for name, help_text in _HELP.items():
            values = [v for v in self.values if v.name == name]
            keys = sorted({k for v in values for k in v.labels})
            family: CounterMetricFamily | GaugeMetricFamily
            if name.endswith("_total"):
                family = CounterMetricFamily(name.removesuffix("_total"), help_text, labels=keys)
            else:
                family = GaugeMetricFamily(name, help_text, labels=keys)
            for v in values:
                family.add_metric([v.labels.get(k, "") for k in keys], v.value)
            yield family


def _buckets(
    bounds: tuple[float, ...], under: tuple[int, ...], count: int
) -> list[tuple[str, float]]:
    return [
        *((str(b), float(n)) for b, n in zip(bounds, under, strict=True)),
        ("+Inf", float(count)),
    ]


class Metrics:
    """The web process's registry: its own delivery counter, and the store read at scrapes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.deliveries = Counter(
            "baton_webhook_deliveries",
            "Webhook deliveries received, by event and what intake did with them.",
            ["event", "outcome"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str], Any] = {}
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)

    def delivery(self, event: str, outcome: str) -> None:
        # On intake's path: the labelled child is looked up once per pair (labels() validates
        # and locks each time, several times the cost of the increment itself).
        child = self._children.get((event, outcome))
        if child is None:
            child = self._children[(event, outcome)] = self.deliveries.labels(event, outcome)
        child.inc()

    async def render(self, store: Store, queue: JobQueue, *, now: float | None = None) -> bytes:
        snap = self._snapshot
        snap.tallies = await store.run_tallies(
            duration_buckets=DURATION_BUCKETS, cost_buckets=COST_BUCKETS
        )
        now = time.time() if now is None else now
        snap.values = [
            v
            for v in await store.metric_values()
            if v.name != RATE_REMAINING or now - v.updated_at <= RATE_FRESH_S
        ]
        waiting = await queue.list_jobs(status=JobStatus.QUEUED)
        snap.queued = len(waiting)
        snap.running = await queue.count(status=JobStatus.RUNNING)
        snap.oldest_age_s = max((now - min(j.created_at for j in waiting)), 0.0) if waiting else 0.0
        # No await between reading and rendering: a concurrent scrape cannot interleave.
        return generate_latest(self.registry)
