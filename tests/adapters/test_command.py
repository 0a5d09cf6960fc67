"""The command adapter runs any CLI from config and reads its usage and cost."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from adapters.base import AgentEvent, AgentTask, CostSource, Limits, RunStatus, discard_events
from adapters.command import CommandAdapter
from adapters.runner import HostRunner
from config.schema import AgentSpec

pytestmark = pytest.mark.anyio

AGENT = """
import json, os, pathlib, sys, time
prompt = pathlib.Path(sys.argv[1]).read_text()
pathlib.Path("out.txt").write_text(prompt.upper())
steps = int(os.environ.get("STEPS", "1"))
for i in range(steps):
    print(json.dumps({"type": "usage", "cost": 0.01 * (i + 1)}), flush=True)
    time.sleep(float(os.environ.get("PAUSE", "0")))
print(json.dumps({"type": "result", "text": "done: " + os.environ.get("GREETING", ""),
                  "usage": {"in": 100, "out": 20}, "session": "s-1", "model": "m-1"}))
"""


def spec(tmp_path: Path, **env: str) -> AgentSpec:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    return AgentSpec.model_validate({
        "adapter": "command",
        "command": [sys.executable, str(script), "{prompt_file}"],
        "env": {"GREETING": "${MY_GREETING}", **env},
        "output": {"format": "jsonl", "summary": "text", "cost_usd": "cost",
                   "input_tokens": "usage.in", "output_tokens": "usage.out",
                   "session_id": "session", "model": "model"},
    })  # fmt: skip


async def test_runs_and_reads_usage(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    adapter = CommandAdapter(
        spec=spec(tmp_path),
        agent="mine",
        server_env={"MY_GREETING": "hi", "BATON_WEBHOOK_SECRET": "x"},
        runner=HostRunner(),
    )
    result = await adapter.run(AgentTask(prompt="make it so"), work, Limits(), discard_events)
    assert result.status is RunStatus.SUCCESS, result.error
    assert (work / "out.txt").read_text() == "MAKE IT SO"
    assert result.summary == "done: hi"
    assert result.usage.input_tokens == 100
    assert result.usage.output_tokens == 20
    assert result.usage.model == "m-1"
    assert result.session_id == "s-1"
    assert result.cost_usd == pytest.approx(0.01)
    assert result.cost_source is CostSource.REPORTED


async def test_env_holds_only_what_config_names(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    probe = tmp_path / "env.py"
    probe.write_text("import os, json; print(json.dumps({'text': ' '.join(sorted(os.environ))}))")
    agent_spec = AgentSpec.model_validate({
        "adapter": "command", "command": [sys.executable, str(probe)],
        "output": {"format": "json", "summary": "text"},
    })  # fmt: skip
    adapter = CommandAdapter(
        spec=agent_spec,
        agent="probe",
        server_env={"BATON_WEBHOOK_SECRET": "s3cret"},
        runner=HostRunner(),
    )
    result = await adapter.run(AgentTask(prompt="x"), work, Limits(), discard_events)
    assert set(result.summary.split()) == {"HOME", "LANG", "PATH"}


async def test_budget_stop_kills_the_run(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    adapter = CommandAdapter(spec=spec(tmp_path, STEPS="50", PAUSE="0.05"), agent="mine",
                             server_env={}, runner=HostRunner())  # fmt: skip
    result = await adapter.run(AgentTask(prompt="x"), work, Limits(max_cost_usd=0.025),
                               discard_events)  # fmt: skip
    assert result.status is RunStatus.BUDGET
    assert result.cost_usd == pytest.approx(0.03)


async def test_timeout(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    adapter = CommandAdapter(spec=spec(tmp_path, STEPS="100", PAUSE="0.1"), agent="mine",
                             server_env={}, runner=HostRunner())  # fmt: skip
    result = await adapter.run(AgentTask(prompt="x"), work, Limits(timeout_s=0.5),
                               discard_events)  # fmt: skip
    assert result.status is RunStatus.TIMED_OUT


async def test_nonzero_exit_is_a_failure_with_stderr(tmp_path: Path) -> None:
    agent_spec = AgentSpec.model_validate({
        "adapter": "command",
        "command": [sys.executable, "-c", "import sys; sys.exit('model said 401')"],
    })  # fmt: skip
    result = await CommandAdapter(
        spec=agent_spec, agent="x", server_env={}, runner=HostRunner()
    ).run(AgentTask(prompt="x"), tmp_path, Limits(), discard_events)
    assert result.status is RunStatus.FAILED
    assert "model said 401" in result.error


async def test_what_it_prints_on_stdout_and_stderr_is_its_log(tmp_path: Path) -> None:
    """A `command` agent streams nothing Baton reads as turns: its output is the agent log."""
    script = "import sys\nprint('reading calc.py')\nprint('warn: slow model', file=sys.stderr)\n"
    agent_spec = AgentSpec.model_validate(
        {"adapter": "command", "command": [sys.executable, "-c", script]}
    )
    seen: list[AgentEvent] = []

    async def sink(event: AgentEvent) -> None:
        seen.append(event)

    result = await CommandAdapter(
        spec=agent_spec, agent="x", server_env={}, runner=HostRunner()
    ).run(AgentTask(prompt="x"), tmp_path, Limits(), sink)
    assert result.status is RunStatus.SUCCESS
    lines = {(e.kind, e.text, e.data["stream"]) for e in seen}
    assert lines == {
        ("message", "reading calc.py", "stdout"),
        ("message", "warn: slow model", "stderr"),
    }


async def test_a_budget_stop_keeps_what_was_printed_before_it(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    seen: list[AgentEvent] = []

    async def sink(event: AgentEvent) -> None:
        seen.append(event)

    adapter = CommandAdapter(spec=spec(tmp_path, STEPS="50"), agent="mine",
                             server_env={}, runner=HostRunner())  # fmt: skip
    result = await adapter.run(AgentTask(prompt="x"), work, Limits(max_cost_usd=0.025), sink)
    assert result.status is RunStatus.BUDGET
    printed = [e.text for e in seen if e.kind == "message"]
    assert printed[:3] == [
        '{"type": "usage", "cost": 0.01}',
        '{"type": "usage", "cost": 0.02}',
        '{"type": "usage", "cost": 0.03}',
    ]
