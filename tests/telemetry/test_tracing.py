"""Traces as a collector receives them: a real OTLP/HTTP receiver decodes the protobuf exports
of a real run (the webhook's intake, the wait in the queue, the run, the agent's invocation with
its GenAI attributes and cost, git and GitHub steps) in one trace; an agent's turns and tool
calls nest under its invocation; without the endpoint nothing is even imported."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import httpx
import pytest

from bot.stack import Stack
from bot.store.base import RunRecord
from bot.telemetry.tracing import Tracing, delivery_ids, tracing_from
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE
from tests.telemetry.otlp_receiver import Receiver

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from starlette.applications import Starlette

pytestmark = pytest.mark.anyio
YML = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"
REPO = "octocat/calc"


def in_process(app: Starlette) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=app)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


async def test_a_run_is_one_trace_from_the_webhook_to_the_pull_request(
    tmp_path: Path, receiver: Receiver
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    settings = {"sandbox": "none"}
    async with Stack(
        workdir=tmp_path, settings=settings, server_env=env, github_transport=in_process
    ) as stack:
        await stack.create_repo("octocat", "calc", {"calc.py": CALC, ".agents.yml": YML})
        number = await stack.open_issue("octocat", REPO, ISSUE_TITLE, ISSUE_BODY)
        await stack.label("octocat", REPO, number, "agent:fix")
        await stack.wait_final(REPO, number)
        [run] = await stack.runtime.services.store.runs_for_target(REPO, number)
    # The runtime's stop flushed every span.
    [intake] = receiver.named("webhook issues")
    trace_id = intake.trace_id
    spans = {s.name: s for s in receiver.spans if s.trace_id == trace_id}
    assert intake.parent_id == ""
    assert intake.service == "baton"
    assert spans["queue wait"].parent_id == intake.span_id
    root = spans[f"run {REPO}#{number}"]
    assert root.parent_id == intake.span_id
    agent = spans["invoke_agent demo"]
    assert agent.parent_id == root.span_id
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "demo"
    assert agent.attributes["gen_ai.response.model"] == run.model
    assert agent.attributes["gen_ai.usage.input_tokens"] == run.input_tokens
    assert agent.attributes["gen_ai.usage.output_tokens"] == run.output_tokens
    assert agent.attributes["gen_ai.usage.cost"] == run.cost_usd
    assert agent.attributes["baton.cost.source"] == "reported"
    for step in (
        "git stage and check",
        "git push",
        "github create pull request",
        "github create check run",
    ):
        assert spans[step].parent_id == root.span_id, step
        assert spans[step].start_ns <= spans[step].end_ns
    assert spans["git push"].start_ns >= agent.end_ns
    assert int(trace_id, 16) == delivery_ids(intake.attributes["github.delivery"])[0]


async def test_turns_and_tool_calls_nest_under_the_agents_invocation(receiver: Receiver) -> None:
    tracing = Tracing(receiver.url, service="baton-test")
    rec = RunRecord(
        id="r7",
        job_id=7,
        repo="o/r",
        number=1,
        trigger="label",
        verb="fix",
        requester="ann",
        status="running",
        created_at=0.0,
        agent="claude",
        adapter="claude-code",
        model="m",
    )
    with tracing.run(delivery_id="d7", job_id=7, attempt=1, repo="o/r", number=1, queued_at=0):
        tracing.on_event(rec, "started", {"agent": "claude"})
        tracing.on_event(rec, "turn", {"turn": 1, "text": "Reading calc.py"})
        tracing.on_event(rec, "tool", {"tool": "Read", "input": "calc.py", "call": "c1"})
        tracing.on_event(
            rec, "tool", {"tool": "Read", "input": "calc.py", "call": "c1", "ok": True}
        )
        tracing.on_event(rec, "turn", {"turn": 2, "text": "Fixing it"})
        tracing.on_event(rec, "tool", {"tool": "Bash", "input": "pytest", "ok": False})
        done = rec.with_(input_tokens=10, output_tokens=5, cost_usd=0.02, cost_source="priced")
        tracing.on_event(done, "policy", {"ok": True})
        tracing.on_event(done, "ended", {"status": "success"})
    tracing.shutdown()
    spans = {s.name: s for s in receiver.spans}
    agent = spans["invoke_agent claude"]
    turns = [s for s in receiver.spans if s.name == "chat m"]
    assert [t.attributes["baton.turn"] for t in turns] == [1, 2]
    assert all(t.parent_id == agent.span_id for t in turns)
    assert spans["execute_tool Read"].parent_id == turns[0].span_id
    assert spans["execute_tool Read"].attributes["gen_ai.tool.call.id"] == "c1"
    assert spans["execute_tool Bash"].parent_id == turns[1].span_id
    assert spans["execute_tool Bash"].status_code == 2  # ERROR
    assert agent.attributes["gen_ai.usage.cost"] == 0.02
    assert agent.attributes["baton.cost.source"] == "priced"
    assert agent.end_ns <= spans["git stage and check"].end_ns


def test_without_the_endpoint_the_sdk_is_never_imported() -> None:
    assert tracing_from({}) is None
    assert tracing_from({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}) is None
    code = (
        "import sys, bot.cli, bot.app, bot.worker, bot.stack\n"
        "from bot.telemetry.tracing import tracing_from\n"
        "tracing_from({})\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
