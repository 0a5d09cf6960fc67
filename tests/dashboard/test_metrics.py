"""/metrics after real runs (in-process worker): prometheus-client's own parser reads counters
and histograms that moved as the runs say, the deliveries intake counted, the GitHub calls and
agent failures the worker tallied into the store, and the queue: its depth and how long its
oldest job has waited."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.queue import NewJob, SQLiteJobQueue
from bot.stack import Stack
from bot.store import open_sqlite
from bot.store.sqlite import SQLiteStore
from bot.store.views import labels_key
from bot.telemetry.metrics import RATE_FRESH_S, Metrics
from bot.telemetry.tally import RATE_REMAINING
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

pytestmark = pytest.mark.anyio
FAILING = f"{{adapter: command, command: [{json.dumps(sys.executable)}, -c, 'exit(3)']}}"
YML = (
    "version: 1\nagents:\n  demo: {adapter: scripted}\n"
    f"  broken: {FAILING}\n"
    "routes:\n  - when: {label: 'agent:fix'}\n    agent: demo\n"
    "  - when: {label: 'agent:broken'}\n    agent: broken\n"
)
REPO = "octocat/calc"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(stack: Stack) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    await stack.runtime.tally.flush(stack.runtime.services.store)
    headers = {"Authorization": f"Bearer {stack.dashboard_token}"}
    async with httpx.AsyncClient(base_url=stack.baton_url, headers=headers) as client:
        resp = await client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(resp.text)


async def test_metrics_move_with_the_runs(stack: Stack) -> None:
    before = await scrape(stack)
    assert value(before, "baton_runs_total", agent="demo", status="success") == 0
    await stack.create_repo("octocat", "calc", {"calc.py": CALC, ".agents.yml": YML})
    for label in ("agent:fix", "agent:broken"):
        number = await stack.open_issue("octocat", REPO, ISSUE_TITLE, ISSUE_BODY)
        await stack.label("octocat", REPO, number, label)
        await stack.wait_final(REPO, number)
    after = await scrape(stack)
    assert value(after, "baton_runs_total", agent="demo", status="success") == 1
    assert value(after, "baton_runs_total", agent="broken", status="failed") == 1
    assert value(after, "baton_run_duration_seconds_count", agent="demo", status="success") == 1
    assert (
        value(after, "baton_run_duration_seconds_bucket", agent="demo", status="success", le="+Inf")
        == 1
    )
    assert value(after, "baton_run_cost_usd_count", agent="demo", status="success") == 1
    assert value(after, "baton_tokens_total", agent="demo", kind="input") > 0
    assert value(after, "baton_webhook_deliveries_total", event="issues", outcome="queued") == 2
    assert value(after, "baton_webhook_deliveries_total", event="issues", outcome="ignored") >= 2
    assert value(after, "baton_agent_process_failures_total", agent="broken", status="failed") == 1
    calls = sum(v for (name, _), v in after.items() if name == "baton_github_api_calls_total")
    assert calls > 10
    installation = str(stack.installation_id)
    labels = {"resource": "core", "installation": installation}
    assert value(after, "baton_github_rate_limit_remaining", **labels) > 0
    assert value(after, "baton_queue_depth") == 0
    assert value(after, "baton_queue_oldest_age_seconds") == 0


async def test_an_unsigned_delivery_is_counted_without_its_claimed_event(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.baton_url) as client:
        resp = await client.post(
            "/webhooks",
            content=b"{}",
            headers={
                "X-GitHub-Event": "made-up-" * 10,
                "X-GitHub-Delivery": "d1",
                "Content-Type": "application/json",
            },
        )
    assert resp.status_code == 401
    found = await scrape(stack)
    assert (
        value(found, "baton_webhook_deliveries_total", event="unverified", outcome="bad_signature")
        == 1
    )
    assert not any("made-up" in str(labels) for _, labels in found)


async def test_the_queue_gauges_count_waiting_jobs_and_the_oldest_ones_wait(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baton.db"
    now = [1000.0]
    async with await SQLiteStore.open(str(path)) as store:
        conn = open_sqlite(f"sqlite:///{path}")
        try:
            queue = SQLiteJobQueue(conn, clock=lambda: now[0])  # not started: nothing runs
            await queue.submit(NewJob(task="run", lock="o/r#1"))
            now[0] = 1030.0
            await queue.submit(NewJob(task="run", lock="o/r#2"))
            found = samples((await Metrics().render(store, queue, now=1090.0)).decode())
        finally:
            conn.close()
    assert value(found, "baton_queue_depth") == 2
    assert value(found, "baton_queue_running") == 0
    assert value(found, "baton_queue_oldest_age_seconds") == 90.0


async def test_a_rate_limit_not_heard_of_for_an_hour_is_no_longer_shown(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "baton.db"
    async with await SQLiteStore.open(str(path), clock=lambda: now[0]) as store:
        gone, busy = (
            (RATE_REMAINING, labels_key({"resource": "core", "installation": who}))
            for who in ("7", "8")
        )
        await store.record_metrics(set_to={gone: 4000.0})
        now[0] += RATE_FRESH_S
        await store.record_metrics(set_to={busy: 12.0})
        conn = open_sqlite(f"sqlite:///{path}")
        try:
            body = await Metrics().render(store, SQLiteJobQueue(conn), now=now[0] + 1)
        finally:
            conn.close()
    found = samples(body.decode())
    assert value(found, RATE_REMAINING, resource="core", installation="8") == 12.0
    assert (RATE_REMAINING, frozenset({("resource", "core"), ("installation", "7")})) not in found
