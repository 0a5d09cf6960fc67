"""The one Runner seam: chosen once from the setting, paths as the process sees them, one base
environment, and a fake runner that drives the adapters with no process and no bubblewrap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters import sandbox as sandbox_module
from adapters.base import AgentEvent, AgentTask, CostSource, Limits, RunStatus, discard_events
from adapters.claude_code import ClaudeCodeDriver
from adapters.command import CommandAdapter
from adapters.harness_run import HarnessAdapter
from adapters.process import Completed, base_env, minimal_env
from adapters.runner import (
    FakeRunner,
    HostRunner,
    Places,
    ProcessJob,
    SandboxRunner,
    chosen,
    completed,
    runner_for,
)
from adapters.sandbox import SandboxStatus, SandboxUnavailable
from adapters.toolchain import HARNESSES, prefix_bin
from config.schema import AgentSpec

pytestmark = pytest.mark.anyio

STREAM = Path(__file__).parent / "streams" / "claude-code-edit.jsonl"
KEY_VAR = "TEST_ANTHROPIC_KEY"
KEY = "sk-ant-test-7f3a"


def places(tmp_path: Path) -> Places:
    for name in ("work", "home", "input"):
        (tmp_path / name).mkdir(exist_ok=True)
    return Places(worktree=tmp_path / "work", home=tmp_path / "home", inputs=tmp_path / "input")


# -- choosing, and what a process sees ---------------------------------------------------------


def test_the_setting_names_the_runner_once() -> None:
    assert isinstance(runner_for("bubblewrap"), SandboxRunner)
    assert isinstance(runner_for("none"), HostRunner)
    given = FakeRunner()
    assert chosen(given, None) is given
    assert isinstance(chosen(None, "none"), HostRunner)
    assert isinstance(chosen(None, None), SandboxRunner)  # nothing said: the sandbox
    with pytest.raises(ValueError, match="not both"):
        chosen(given, "none")


async def test_a_missing_sandbox_fails_the_run_not_the_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "_status", SandboxStatus(ok=False, reason="no bwrap"))
    runner = runner_for("bubblewrap")  # probes nothing
    job = ProcessJob(name="claude", argv=("true",), places=places(tmp_path), env={})
    with pytest.raises(SandboxUnavailable, match="agent claude needs the sandbox, but no bwrap"):
        await runner.run(job)


def test_the_sandbox_answers_where_the_places_are_inside(tmp_path: Path) -> None:
    where = places(tmp_path)
    runner = SandboxRunner()
    assert runner.inside(where.worktree, where) == Path("/workspace")
    assert runner.inside(where.worktree / "AGENTS.md", where) == Path("/workspace/AGENTS.md")
    assert runner.inside(where.home, where) == Path("/home/agent")
    assert runner.inside(where.home / ".claude", where) == Path("/home/agent/.claude")
    prompt = tmp_path / "input" / "prompt.md"
    assert runner.inside(prompt, where) == Path("/run/baton/input/prompt.md")
    with pytest.raises(ValueError, match="none of the job's places"):
        runner.inside(tmp_path / "elsewhere", where)


def test_on_the_host_the_places_are_where_they_are(tmp_path: Path) -> None:
    where = places(tmp_path)
    prompt = tmp_path / "input" / "prompt.md"
    assert HostRunner().inside(prompt, where) == prompt
    assert FakeRunner(sandboxed=False).inside(where.home, where) == where.home
    with pytest.raises(ValueError, match="none of the job's places"):
        HostRunner().inside(Path("/etc/passwd"), where)


def test_every_child_starts_from_one_base_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", "whsec-x")
    monkeypatch.setenv("PATH", "/srv/bin:/usr/bin")
    env = base_env(Path("/home/agent"), {"GREETING": "hi", "HOME": "/root", "LANG": "C"})
    # What the job adds may change PATH or LANG, never HOME; nothing else of the server's.
    assert env == {
        "PATH": "/srv/bin:/usr/bin",
        "LANG": "C",
        "HOME": "/home/agent",
        "GREETING": "hi",
    }
    assert base_env("/h", path="/usr/bin")["PATH"] == "/usr/bin"
    assert minimal_env(HOME="/tmp/h", X="1") == {
        "PATH": "/srv/bin:/usr/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp/h",
        "X": "1",
    }


async def test_the_fake_records_jobs_and_answers_from_its_script(tmp_path: Path) -> None:
    async def later(job: ProcessJob) -> Completed:
        return completed("b\n")

    runner = FakeRunner(completed("a\nb\n"), later)
    job = ProcessJob(name="x", argv=("agent",), places=places(tmp_path), env={})
    lines: list[str] = []

    async def on_line(line: str) -> None:
        lines.append(line)

    assert (await runner.run(job, on_stdout_line=on_line)).out == "a\nb\n"
    assert (await runner.run(job, on_stdout_line=on_line)).returncode == 0
    assert lines == ["a", "b", "b"]
    assert runner.jobs == [job, job]
    with pytest.raises(AssertionError, match="no step left for x"):
        await runner.run(job)


# -- the command adapter on a fake runner ------------------------------------------------------


def command_spec() -> AgentSpec:
    return AgentSpec.model_validate(
        {
            "adapter": "command",
            "command": ["my-agent", "--prompt", "{prompt_file}", "{workdir}"],
            "env": {"GREETING": "${MY_GREETING}"},
            "output": {
                "format": "jsonl",
                "summary": "text",
                "cost_usd": "cost",
                "input_tokens": "usage.in",
                "session_id": "session",
            },
        }
    )


def jsonl(*events: object) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


async def test_a_command_agent_runs_on_the_fake_as_in_the_sandbox(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()

    def agent(job: ProcessJob) -> Completed:
        # What the agent would do: read its prompt where Baton put it, edit the worktree.
        assert job.places.inputs is not None
        prompt = (job.places.inputs / "prompt.md").read_text()
        (job.places.worktree / "out.txt").write_text(prompt.upper())
        return completed(
            jsonl({"cost": 0.01}, {"text": "done", "usage": {"in": 7}, "session": "s"})
        )

    runner = FakeRunner(agent)
    adapter = CommandAdapter(
        spec=command_spec(),
        agent="mine",
        runner=runner,
        server_env={"MY_GREETING": "hi", "BATON_WEBHOOK_SECRET": "whsec-x"},
    )
    result = await adapter.run(AgentTask(prompt="make it so"), work, Limits(), discard_events)
    assert result.status is RunStatus.SUCCESS, result.error
    assert (result.summary, result.usage.input_tokens, result.session_id) == ("done", 7, "s")
    assert (result.cost_usd, result.cost_source) == (0.01, CostSource.REPORTED)
    assert (work / "out.txt").read_text() == "MAKE IT SO"
    (job,) = runner.jobs
    assert job.argv == ("my-agent", "--prompt", "/run/baton/input/prompt.md", "/workspace")
    assert job.env["HOME"] == "/home/agent"
    assert set(job.env) == {"PATH", "LANG", "HOME", "GREETING"}
    assert job.env["GREETING"] == "hi"
    assert (job.name, job.network, job.places.worktree) == ("mine", "none", work.resolve())


async def test_a_command_agent_on_the_host_is_given_host_paths(tmp_path: Path) -> None:
    runner = FakeRunner(completed(jsonl({"text": "ok"})), sandboxed=False)
    adapter = CommandAdapter(spec=command_spec(), agent="mine", server_env={}, runner=runner)
    result = await adapter.run(AgentTask(prompt="x"), tmp_path, Limits(), discard_events)
    assert result.status is RunStatus.SUCCESS, result.error
    (job,) = runner.jobs
    assert job.places.inputs is not None
    assert job.argv[2:] == (str(job.places.inputs / "prompt.md"), str(tmp_path.resolve()))
    assert job.env["HOME"] == str(job.places.home)


async def test_a_command_agent_over_its_budget_is_stopped(tmp_path: Path) -> None:
    stream = jsonl(*({"cost": 0.01 * i} for i in range(1, 10)))
    runner = FakeRunner(completed(stream))
    adapter = CommandAdapter(spec=command_spec(), agent="mine", server_env={}, runner=runner)
    limits = Limits(max_cost_usd=0.025)
    result = await adapter.run(AgentTask(prompt="x"), tmp_path, limits, discard_events)
    assert result.status is RunStatus.BUDGET
    assert result.cost_usd == pytest.approx(0.03)


async def test_a_command_agent_that_timed_out_says_so(tmp_path: Path) -> None:
    runner = FakeRunner(completed(timed_out=True))
    adapter = CommandAdapter(spec=command_spec(), agent="mine", server_env={}, runner=runner)
    limits = Limits(timeout_s=5)
    result = await adapter.run(AgentTask(prompt="x"), tmp_path, limits, discard_events)
    assert (result.status, result.error) == (RunStatus.TIMED_OUT, "no result within 5s")
    assert runner.jobs[0].timeout_s == 5


# -- Claude Code on a fake runner, answered with its recorded stream ---------------------------


def claude(tmp_path: Path, runner: FakeRunner) -> HarnessAdapter:
    """The harness adapter with a stand-in `claude` that only answers `--version`."""
    binary = prefix_bin(HARNESSES["claude-code"], tmp_path / "agents")
    binary.parent.mkdir(parents=True)
    binary.write_text(f"#!/bin/sh\necho '{HARNESSES['claude-code'].version} (Claude Code)'\n")
    binary.chmod(0o755)
    spec = AgentSpec(adapter="claude-code", model="claude-sonnet-4-5", api_key_env=KEY_VAR)
    return HarnessAdapter(
        driver=ClaudeCodeDriver(),
        spec=spec,
        agent="claude",
        runner=runner,
        server_env={KEY_VAR: KEY, "BATON_WEBHOOK_SECRET": "whsec-x"},
        prefix=tmp_path / "agents",
        sessions=tmp_path / "sessions",
    )


def edits_as_recorded(job: ProcessJob) -> Completed:
    """The recorded run's edits, made in the worktree; then its stdout."""
    (job.places.worktree / "notes").mkdir()
    (job.places.worktree / "notes" / "hello.txt").write_text("hello from the scripted model\n")
    (job.places.worktree / "app.py").write_text("import os\nANSWER = 42\n")
    return completed(STREAM.read_text())


async def test_claude_code_runs_on_the_fake_from_its_recorded_stream(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    runner = FakeRunner(edits_as_recorded)
    events: list[AgentEvent] = []

    async def sink(event: AgentEvent) -> None:
        events.append(event)

    limits = Limits(timeout_s=60, max_cost_usd=1.0)
    result = await claude(tmp_path, runner).run(AgentTask(prompt="fix it"), work, limits, sink)
    assert result.status is RunStatus.SUCCESS, result.error
    assert result.summary == "Wrote notes/hello.txt and fixed ANSWER in app.py."
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.turns) == (2200, 78, 5)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (280, 112)
    assert (result.cost_usd, result.cost_source) == (0.008274, CostSource.REPORTED)
    assert result.session_id == "5df345a7-5797-4261-8d41-c436762b6c37"
    assert (work / "app.py").read_text() == "import os\nANSWER = 42\n"
    # The stream reached the run's events as it came (the recorded run's tool calls).
    assert any(e.kind == "tool" and e.text.startswith("Edit") for e in events)
    (job,) = runner.jobs
    assert job.argv[1:5] == ("-p", "fix it", "--output-format", "stream-json")
    assert KEY not in " ".join(job.argv)
    assert (job.env["ANTHROPIC_API_KEY"], job.env["HOME"]) == (KEY, "/home/agent")
    assert "BATON_WEBHOOK_SECRET" not in job.env
    # Cut off from the network, it reaches the vendor through the relay.
    assert (job.network, job.model_endpoint) == ("none", "https://api.anthropic.com")
    assert any(path.name == "node_modules" for path in job.read_only)


async def test_claude_code_memory_names_the_worktree_as_the_process_sees_it(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "AGENTS.md").write_text("Be brief.\n")
    seen: list[str] = []

    def agent(job: ProcessJob) -> Completed:
        seen.append((job.places.home / ".claude" / "CLAUDE.md").read_text())
        return completed(STREAM.read_text())

    for sandboxed, where in ((True, "/workspace"), (False, str(work.resolve()))):
        runner = FakeRunner(agent, sandboxed=sandboxed)
        adapter = claude(tmp_path / str(sandboxed), runner)
        result = await adapter.run(AgentTask(prompt="x"), work, Limits(), discard_events)
        assert result.status is RunStatus.SUCCESS, result.error
        assert seen[-1] == f"@{where}/AGENTS.md\n"


async def test_claude_code_over_its_budget_is_stopped_at_the_reported_cost(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    runner = FakeRunner(completed(STREAM.read_text()))
    limits = Limits(max_cost_usd=0.001)
    result = await claude(tmp_path, runner).run(AgentTask(prompt="x"), work, limits, discard_events)
    assert result.status is RunStatus.BUDGET
    assert result.error == "claude: stopped at $0.0083, over the $0.0010 limit of this run"
