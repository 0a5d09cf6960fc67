"""The real Claude Code and Codex CLIs, sandboxed, against the scripted model server: the events
their adapter emits hold each scripted tool call, with the outcome the CLI saw."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from adapters.base import AgentEvent, AgentTask, Limits, RunStatus
from adapters.claude_code import ClaudeCodeDriver
from adapters.codex import CodexDriver
from adapters.harness_run import HarnessAdapter
from adapters.modelserver import Edit, ModelServer, ReplaceText, WriteFile
from adapters.process import minimal_env, run
from adapters.runner import SandboxRunner
from adapters.toolchain import install
from config.schema import AgentSpec
from tests.e2e.real_agents import MODELS, PREFIX

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.harness import Driver

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.usefixtures("sandbox_ready")]

KEY_VAR = "SCRIPTED_MODEL_KEY"
OUTSIDE = "/proc/baton-nope/x.txt"  # nothing can be written there: the second change fails
SCENARIO = Edit(
    changes=(
        ReplaceText("app.py", "ANSWER = 41\n", "ANSWER = 42\n"),
        WriteFile(OUTSIDE, "no\n"),
    ),
    summary="Fixed ANSWER; the second file could not be written.",
)


async def run_events(driver: Driver, tmp_path: Path) -> list[AgentEvent]:
    """Run the CLI through its adapter, as Baton does, and keep every event it emits."""
    (found,) = await install([driver.harness], PREFIX)
    assert found.path is not None
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.py").write_text("import os\nANSWER = 41\n")
    await run(["git", "init", "-q"], cwd=work, env=minimal_env())
    events: list[AgentEvent] = []

    async def sink(event: AgentEvent) -> None:
        events.append(event)

    async with ModelServer() as server:
        spec = AgentSpec(
            adapter=driver.harness,
            model=MODELS[driver.harness],
            base_url=server.url,
            api_key_env=KEY_VAR,
        )
        adapter = HarnessAdapter(
            driver=driver,
            spec=spec,
            agent="bot",
            server_env={KEY_VAR: server.register(SCENARIO)},
            runner=SandboxRunner(),
            prefix=PREFIX,
            sessions=tmp_path / "sessions",
        )
        task = AgentTask(prompt="Apply the scripted change.")
        result = await adapter.run(task, work, Limits(timeout_s=120), sink)
    assert result.status is RunStatus.SUCCESS, result.error
    assert (work / "app.py").read_text() == "import os\nANSWER = 42\n"
    return events


def outcomes(events: list[AgentEvent]) -> list[tuple[object, object, object]]:
    """(tool, input, ok) of each tool call's outcome, checking that it came after its call and
    that every call has one."""
    called: set[object] = set()
    done = []
    for event in (e for e in events if e.kind == "tool"):
        if "ok" not in event.data:
            called.add(event.data["call"])
            continue
        assert event.data["call"] in called
        done.append((event.data["tool"], event.data["input"], event.data["ok"]))
    assert len(done) == len(called)
    return done


async def test_claude_code_emits_its_turns_and_tool_calls(tmp_path: Path) -> None:
    events = await run_events(ClaudeCodeDriver(), tmp_path)
    assert outcomes(events) == [
        ("Read", "/workspace/app.py", True),
        ("Edit", "/workspace/app.py", True),
        ("Read", OUTSIDE, False),
        ("Write", OUTSIDE, False),
    ]
    turns = [e for e in events if e.kind == "turn"]
    assert [e.data["turn"] for e in turns] == [1, 2, 3, 4, 5]
    assert turns[-1].text == SCENARIO.summary
    # The usage event of its result is as before, with Claude Code's own cost.
    [usage] = [e for e in events if e.kind == "usage"]
    assert usage.cost_usd is not None
    assert usage.cost_usd > 0


async def test_codex_emits_its_commands_with_their_exit_and_its_messages(tmp_path: Path) -> None:
    events = await run_events(CodexDriver(), tmp_path)
    done = outcomes(events)
    assert [(tool, ok) for tool, _, ok in done] == [
        ("command_execution", True),
        ("command_execution", False),
    ]
    assert "app.py" in str(done[0][1])
    assert OUTSIDE in str(done[1][1])
    assert [e.text for e in events if e.kind == "turn"] == [SCENARIO.summary]
    assert any(e.kind == "usage" and e.usage for e in events)
