"""A whole deployment as an operator runs it: `baton serve` with its `baton worker` child, in
text and in JSON logs. After real runs (one that succeeds, one whose agent fails, both echoing
their model key) `/metrics` on the server shows what the worker did, every JSON log line names
its run, repository, delivery and agent where known, and no log line, page, event feed or
check-run summary holds the webhook secret, the private key, an installation token or the model
key."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.stack import Stack, free_socket
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE
from tests.e2e.test_restart import Server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
REPO = "octocat/calc"
MODEL_KEY = "sk-demo-" + "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e"
# Agents that print the key they were handed, to stdout and stderr, as a careless CLI might.
ECHO = """
import os, pathlib, sys
key = os.environ["DEMO_MODEL_KEY"]
print("using key", key)
print("debug: key is", key, file=sys.stderr)
if sys.argv[1] == "fail":
    sys.exit(1)
path = pathlib.Path("calc.py")
path.write_text(path.read_text().replace("return a - b", "return a + b", 1))
"""


def agents_yml(script: Path) -> str:
    def agent(mode: str) -> str:
        argv = json.dumps([sys.executable, str(script), mode])
        return (
            f"{{adapter: command, command: {argv}, model: echo-1, "
            "api_key_env: DEMO_MODEL_KEY, env: {DEMO_MODEL_KEY: '${DEMO_MODEL_KEY}'}}"
        )

    return (
        f"version: 1\nagents:\n  echo: {agent('ok')}\n  leaky: {agent('fail')}\n"
        "routes:\n  - when: {label: 'agent:fix'}\n    agent: echo\n"
    )


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    async with Stack(workdir=tmp_path, baton_port=port) as running:
        yield running


def _metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _scrape(client: httpx.AsyncClient, *, until_flushed: bool) -> dict:  # type: ignore[type-arg]
    """The server's /metrics. The worker adds its tally (GitHub calls, agent failures) to the
    store every few seconds: with `until_flushed`, wait for the tally of the last run, the
    failed one (a flush of the first run's calls alone may come before it)."""
    deadline = time.monotonic() + 60
    failure = (
        "baton_agent_process_failures_total",
        frozenset({("agent", "leaky"), ("status", "failed")}),
    )
    while True:
        resp = await client.get("/metrics")
        assert resp.status_code == 200
        found = _metrics(resp.text)
        if not until_flushed or found.get(failure) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_metrics_logs_and_pages_of_runs_in_a_worker_process(
    stack: Stack, tmp_path: Path, log_format: str
) -> None:
    script = tmp_path / "echo.py"
    script.write_text(ECHO)
    log_path = tmp_path / "server.log"
    env = {
        **os.environ,
        **stack.env(),
        "BATON_WORKER": "process",
        "BATON_SANDBOX": "none",
        "BATON_LOG_FORMAT": log_format,
        "BATON_LOG_LEVEL": "DEBUG",
        "DEMO_MODEL_KEY": MODEL_KEY,
    }
    port = int(stack.baton_url.rsplit(":", 1)[1])
    with log_path.open("w") as log:
        server = Server(env, port, tmp_path, stderr=log)
        try:
            await server.ready()
            headers = {"Authorization": f"Bearer {stack.dashboard_token}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
                before = await _scrape(client, until_flushed=False)
                await stack.create_repo(
                    "octocat", "calc", {"calc.py": CALC, ".agents.yml": agents_yml(script)}
                )
                for label in ("agent:fix", "agent:leaky"):
                    number = await stack.open_issue("octocat", REPO, ISSUE_TITLE, ISSUE_BODY)
                    await stack.label("octocat", REPO, number, label)
                    await stack.wait_final(REPO, number, timeout_s=60)
                after = await _scrape(client, until_flushed=True)
                pages = [await client.get(p) for p in ("/runs", "/spend", "/scoreboard")]
                run_ids = re.findall(r'<tr class="run" data-run="([^"]+)"', pages[0].text)
                assert len(run_ids) == 2
                for run_id in run_ids:
                    pages += [
                        await client.get(f"/runs/{run_id}"),
                        await client.get(f"/runs/{run_id}/events"),
                    ]
        finally:
            server.kill()
    _check_metrics(before, after)
    secrets = _secrets(stack)
    lines = log_path.read_text().splitlines()
    assert lines, "the server logged nothing"
    texts = {"log": "\n".join(lines), **{f"page {p.url.path}": p.text for p in pages}}
    for repo in stack.hub.repos.values():
        for check in repo.check_runs.values():
            texts[f"check run {check.id}"] = json.dumps(check.output)
    assert all(p.status_code == 200 for p in pages)
    # What the agents echoed is their agent log, shown with the key masked (not left out).
    run_pages = [p.text for p in pages if re.fullmatch(r"/runs/[^/]+", p.url.path)]
    assert len(run_pages) == 2
    for page in run_pages:
        assert "using key ***" in page
        assert "debug: key is ***" in page
    for where, text in texts.items():
        for name, secret in secrets.items():
            assert secret not in text, f"{name} appears in the {where}"
    if log_format == "json":
        _check_json_lines(lines)


def _check_metrics(before: dict, after: dict) -> None:  # type: ignore[type-arg]
    def value(found: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
        return float(found.get((name, frozenset(labels.items())), 0.0))

    assert value(before, "baton_runs_total", agent="echo", status="success") == 0
    assert value(after, "baton_runs_total", agent="echo", status="success") == 1
    assert value(after, "baton_runs_total", agent="leaky", status="failed") == 1
    assert value(after, "baton_run_duration_seconds_count", agent="echo", status="success") == 1
    assert value(after, "baton_agent_process_failures_total", agent="leaky", status="failed") == 1
    assert value(after, "baton_webhook_deliveries_total", event="issues", outcome="queued") == 2
    calls = sum(v for (n, _), v in after.items() if n == "baton_github_api_calls_total")
    assert calls > 10  # made by the worker process, added up in the store


def _secrets(stack: Stack) -> dict[str, str]:
    key_lines = stack.keys.private_pem.strip().splitlines()[1:-1]
    found = {
        "the webhook secret": stack.secret,
        "the model key": MODEL_KEY,
        "the OAuth client secret": stack.client_secret,
        "the dashboard token": stack.dashboard_token,
        "a line of the private key": key_lines[len(key_lines) // 2],
    }
    tokens = list(stack.hub.tokens)
    assert tokens, "no installation token was minted"
    found.update({f"installation token {i}": t for i, t in enumerate(tokens)})
    return found


def _check_json_lines(lines: list[str]) -> None:
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    runs = [r for r in records if "run" in r]
    assert runs, "no line names a run"
    for record in runs:
        assert "repo" in record, record
        assert "delivery" in record, record
    # A run's git, sandbox and agent processes all belong to an agent's attempt.
    for record in runs:
        if record["logger"].startswith("adapters."):
            assert "agent" in record, record
    # The queue's lines about a run's job name its delivery and repository.
    jobs = [r for r in records if r["logger"] == "bot.queue.sqlite" and "(run)" in r["message"]]
    assert jobs
    for record in jobs:
        assert {"delivery", "repo"} <= record.keys(), record
    intake = [r for r in records if r["logger"] == "bot.webhooks" and "-> job" in r["message"]]
    assert len([r for r in intake if r["message"].startswith("issues.labeled")]) == 2
    for record in intake:
        assert record.get("repo") == REPO, record
