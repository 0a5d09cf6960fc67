"""What every Store promises the dashboard and `/metrics`: filtered pages of runs that never
show a repository the reader may not see, spend rows, tallies per agent and outcome with
histogram buckets, and metric values that several processes add to without losing any."""

from __future__ import annotations

import asyncio

import pytest

from bot.store.views import RunQuery, labels_key
from tests.store.backends import StoreBackend
from tests.store.conftest import Clock, record

pytestmark = pytest.mark.anyio


async def _seed(backend: StoreBackend) -> None:
    store = await backend.store()
    rows = [
        ("r1", "acme/app", "claude", "success", "ann", "agent:fix", 10.0),
        ("r2", "acme/lib", "codex", "failed", "bob", "agent:fix", 20.0),
        ("r3", "acme/app", "codex", "success", "ann", "", 30.0),
        ("r4", "other/x", "claude", "success", "eve", "agent:fix", 40.0),
        ("r5", "acme/app", "claude", "running", "bob", "agent:docs", 50.0),
    ]
    for run_id, repo, agent, status, who, label, at in rows:
        await store.save_run(
            record(
                id=run_id,
                repo=repo,
                agent=agent,
                status=status,
                requester=who,
                label=label,
                created_at=at,
            )
        )


async def test_a_query_pages_newest_first_and_counts_every_match(backend: StoreBackend) -> None:
    await _seed(backend)
    store = await backend.store()
    page = await store.query_runs(RunQuery(limit=2))
    assert ([r.id for r in page.runs], page.total) == (["r5", "r4"], 5)
    page = await store.query_runs(RunQuery(limit=2, offset=4))
    assert ([r.id for r in page.runs], page.total) == (["r1"], 5)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (RunQuery(repo="acme/app"), ["r5", "r3", "r1"]),
        (RunQuery(agent="codex"), ["r3", "r2"]),
        (RunQuery(status="success"), ["r4", "r3", "r1"]),
        (RunQuery(requester="bob"), ["r5", "r2"]),
        (RunQuery(label="agent:fix"), ["r4", "r2", "r1"]),
        (RunQuery(since=20.0, until=40.0), ["r3", "r2"]),
        (RunQuery(agent="claude", status="success", repo="acme/app"), ["r1"]),
    ],
)
async def test_each_filter_narrows_the_runs(
    backend: StoreBackend, query: RunQuery, expected: list[str]
) -> None:
    await _seed(backend)
    page = await (await backend.store()).query_runs(query)
    assert ([r.id for r in page.runs], page.total) == (expected, len(expected))


async def test_a_reader_sees_only_the_repositories_given(backend: StoreBackend) -> None:
    await _seed(backend)
    store = await backend.store()
    page = await store.query_runs(RunQuery(repos=frozenset({"acme/lib", "other/x"})))
    assert [r.id for r in page.runs] == ["r4", "r2"]
    # A filter naming another repository finds nothing rather than widening what is seen.
    hidden = await store.query_runs(RunQuery(repos=frozenset({"acme/lib"}), repo="acme/app"))
    assert (hidden.runs, hidden.total) == ([], 0)
    nothing = await store.query_runs(RunQuery(repos=frozenset()))
    assert (nothing.runs, nothing.total) == ([], 0)
    assert await store.spend_rows(repos=frozenset()) == []


async def test_a_run_keeps_its_label(backend: StoreBackend) -> None:
    store = await backend.store()
    await store.save_run(record(label="agent:fix"))
    assert (await store.get_run("r1") or record()).label == "agent:fix"


async def test_spend_rows_carry_each_runs_cost_and_where_it_came_from(
    backend: StoreBackend,
) -> None:
    store = await backend.store()
    await store.save_run(record(id="a", cost_usd=0.5, cost_source="reported", created_at=5.0))
    await store.save_run(record(id="b", repo="o/x", agent="codex", created_at=9.0))
    rows = await store.spend_rows(repos=None)
    assert [(r.repo, r.cost_usd, r.cost_source) for r in rows] == [
        ("o/x", None, "unknown"),
        ("o/r", 0.5, "reported"),
    ]
    assert [r.created_at for r in await store.spend_rows(repos=None, since=6.0)] == [9.0]
    assert [r.agent for r in await store.spend_rows(repos=frozenset({"o/x"}))] == ["codex"]


async def test_tallies_count_finished_runs_into_cumulative_buckets(
    backend: StoreBackend,
) -> None:
    store = await backend.store()
    runs = [
        ("a", "claude", "success", 5.0, 0.01, 100),
        ("b", "claude", "success", 50.0, 0.5, 200),
        ("c", "claude", "success", 500.0, None, 300),
        ("d", "claude", "failed", None, None, 0),
        ("e", "codex", "running", 1.0, 0.01, 7),  # not finished: not counted
    ]
    for run_id, agent, status, duration, cost, tokens in runs:
        await store.save_run(
            record(
                id=run_id,
                agent=agent,
                status=status,
                duration_s=duration,
                cost_usd=cost,
                input_tokens=tokens,
                output_tokens=1,
            )
        )
    tallies = await store.run_tallies(duration_buckets=[10.0, 100.0], cost_buckets=[0.1])
    assert [(t.agent, t.status, t.runs) for t in tallies] == [
        ("claude", "failed", 1),
        ("claude", "success", 3),
    ]
    ok = tallies[1]
    assert (ok.duration_count, ok.duration_sum, ok.duration_le) == (3, 555.0, (1, 2))
    assert (ok.cost_count, ok.cost_sum, ok.cost_le) == (2, 0.51, (1,))
    assert ok.tokens["input"] == 600
    assert ok.tokens["output"] == 3
    assert tallies[0].duration_le == (0, 0)


async def test_metric_values_add_up_across_processes_and_gauges_are_set(
    backend: StoreBackend, clock: Clock
) -> None:
    stores = [await backend.store(clock=clock), await backend.store(clock=clock)]
    calls = ("baton_github_calls_total", labels_key({"status": "200"}))
    remaining = ("baton_github_rate_limit_remaining", labels_key({"installation": "7"}))

    async def worker(n: int) -> None:
        for _ in range(5):
            await stores[n % 2].record_metrics(add={calls: 1.0})

    await asyncio.gather(*(worker(n) for n in range(6)))
    await stores[0].record_metrics(set_to={remaining: 4999.0})
    clock.now += 1
    await stores[1].record_metrics(set_to={remaining: 4990.0}, add={calls: 0.5})
    values = {(v.name, labels_key(v.labels)): v for v in await stores[0].metric_values()}
    assert values[calls].value == 30.5
    assert values[calls].labels == {"status": "200"}
    assert (values[remaining].value, values[remaining].updated_at) == (4990.0, clock.now)
