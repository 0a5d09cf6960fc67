"""The real-CLI adapter around a CLI: limits, costs and their sources, with stand-in binaries."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

import pytest

from adapters.aider import AiderDriver
from adapters.base import AgentResult, AgentTask, CostSource, Limits, RunStatus, discard_events
from adapters.codex import CodexDriver
from adapters.harness_run import HarnessAdapter
from adapters.runner import HostRunner
from adapters.toolchain import HARNESSES, prefix_bin
from config.schema import AgentSpec

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.harness import Driver

pytestmark = pytest.mark.anyio

KEY_VAR = "TEST_MODEL_KEY"
VERSION = "codex-cli 0.169.0"
MODELS = {"codex": "gpt-5-codex", "aider": "openai/gpt-5"}


def fake_cli(prefix: Path, body: str, version: str = VERSION, harness: str = "codex") -> None:
    """A stand-in CLI in the prefix: answers `--version`, else runs `body` (Python)."""
    path = prefix_bin(HARNESSES[harness], prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, pathlib, sys, time\n"
        f"if sys.argv[1:] == ['--version']:\n    print({version!r})\n    sys.exit(0)\n"
        "def say(**event):\n    print(json.dumps(event), flush=True)\n"
        f"{body}\n"
    )
    path.chmod(0o755)


def adapter(tmp_path: Path, driver: Driver) -> HarnessAdapter:
    spec = AgentSpec(adapter=driver.harness, model=MODELS[driver.harness], api_key_env=KEY_VAR)
    return HarnessAdapter(
        driver=driver, spec=spec, agent="bot", server_env={KEY_VAR: "sk-test"},
        runner=HostRunner(), prefix=tmp_path / "agents", sessions=tmp_path / "sessions",
    )  # fmt: skip


async def run(tmp_path: Path, limits: Limits, driver: Driver | None = None) -> AgentResult:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    agent = adapter(tmp_path, driver or CodexDriver())
    return await agent.run(AgentTask(prompt="go"), work, limits, discard_events)


async def test_a_run_killed_before_any_usage_report_has_an_unknown_cost(tmp_path: Path) -> None:
    fake_cli(tmp_path / "agents", "say(type='thread.started', thread_id='t1')\ntime.sleep(60)")
    result = await run(tmp_path, Limits(timeout_s=1))
    assert result.status is RunStatus.TIMED_OUT
    assert (result.cost_usd, result.cost_source) == (None, CostSource.UNKNOWN)


async def test_aider_retrying_a_failing_api_is_stopped_after_its_retries(tmp_path: Path) -> None:
    error = "litellm.InternalServerError: InternalServerError: OpenAIException - overloaded"
    body = (
        "for delay in (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0):\n"
        f"    print({error!r}, flush=True)\n"
        "    print(f'Retrying in {delay:.1f} seconds...', flush=True)\n"
        "    time.sleep(delay)\n"
    )
    fake_cli(tmp_path / "agents", body, version="aider 0.86.2", harness="aider")
    began = time.monotonic()
    result = await run(tmp_path, Limits(timeout_s=60), AiderDriver())
    assert time.monotonic() - began < 10
    assert result.status is RunStatus.FAILED
    assert result.error == f"bot (aider) failed: {error} (still failing after 2 retries)"
    assert (result.cost_usd, result.cost_source) == (None, CostSource.UNKNOWN)


async def test_codex_is_stopped_at_its_budget_from_its_rollout_mid_turn(tmp_path: Path) -> None:
    # Like Codex: the stream says nothing until the turn ends; the rollout grows per model call.
    body = """
say(type='thread.started', thread_id='t1')
pathlib.Path('pid').write_text(str(os.getpid()))
rollout = pathlib.Path(os.environ['CODEX_HOME'], 'sessions/2026/01/01/rollout-x-t1.jsonl')
rollout.parent.mkdir(parents=True)
for calls in range(1, 1000):
    totals = {'input_tokens': 1000 * calls, 'output_tokens': 50 * calls}
    payload = {'type': 'token_count', 'info': {'total_token_usage': totals}}
    with rollout.open('a') as log:
        log.write(json.dumps({'type': 'event_msg', 'payload': payload}) + '\\n')
    time.sleep(0.2)
"""
    fake_cli(tmp_path / "agents", body)
    began = time.monotonic()
    result = await run(tmp_path, Limits(timeout_s=30, max_cost_usd=0.005))
    assert time.monotonic() - began < 5
    assert result.status is RunStatus.BUDGET
    assert result.cost_source is CostSource.PRICED
    assert result.cost_usd is not None
    assert result.cost_usd > 0.005
    assert result.usage.input_tokens >= 3000
    assert result.error.startswith(f"bot: stopped at ${result.cost_usd:.4f}, over the $0.0050")
    pid = int((tmp_path / "work" / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_cli_other_than_the_pinned_version_is_named_when_it_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake_cli(
        tmp_path / "agents", "print('boom', file=sys.stderr)\nsys.exit(2)", "codex-cli 0.170.0"
    )
    result = await run(tmp_path, Limits(timeout_s=30))
    drift = "codex 0.170.0 is installed, not the pinned 0.169.0"
    assert result.status is RunStatus.FAILED
    assert result.harness_version == "0.170.0"
    assert result.error.startswith("bot (codex) failed: ")
    assert f"(note: {drift} (`baton agents install codex` installs it))" in result.error
    assert any(drift in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)

    caplog.clear()
    fake_cli(tmp_path / "agents", "print('boom', file=sys.stderr)\nsys.exit(2)")
    result = await run(tmp_path, Limits(timeout_s=30))
    assert result.status is RunStatus.FAILED
    assert "pinned" not in result.error
    assert not any("pinned" in r.getMessage() for r in caplog.records)
