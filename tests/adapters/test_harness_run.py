"""The real-CLI adapter around a CLI: limits, costs and their sources, with stand-in binaries."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

from adapters.base import AgentResult, AgentTask, CostSource, Limits, RunStatus, discard_events
from adapters.codex import CodexDriver
from adapters.harness_run import HarnessAdapter
from adapters.toolchain import HARNESSES, prefix_bin
from config.schema import AgentSpec

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

KEY_VAR = "TEST_MODEL_KEY"
VERSION = "codex-cli 0.169.0"


def fake_codex(prefix: Path, body: str, version: str = VERSION) -> None:
    """A stand-in `codex` in the prefix: answers `--version`, else runs `body` (Python)."""
    path = prefix_bin(HARNESSES["codex"], prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, pathlib, sys, time\n"
        f"if sys.argv[1:] == ['--version']:\n    print({version!r})\n    sys.exit(0)\n"
        "def say(**event):\n    print(json.dumps(event), flush=True)\n"
        f"{body}\n"
    )
    path.chmod(0o755)


def adapter(tmp_path: Path) -> HarnessAdapter:
    spec = AgentSpec(adapter="codex", model="gpt-5-codex", api_key_env=KEY_VAR)
    return HarnessAdapter(
        driver=CodexDriver(), spec=spec, agent="bot", server_env={KEY_VAR: "sk-test"},
        sandbox="none", prefix=tmp_path / "agents", sessions=tmp_path / "sessions",
    )  # fmt: skip


async def run(tmp_path: Path, limits: Limits) -> AgentResult:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return await adapter(tmp_path).run(AgentTask(prompt="go"), work, limits, discard_events)


async def test_a_run_killed_before_any_usage_report_has_an_unknown_cost(tmp_path: Path) -> None:
    fake_codex(tmp_path / "agents", "say(type='thread.started', thread_id='t1')\ntime.sleep(60)")
    result = await run(tmp_path, Limits(timeout_s=1))
    assert result.status is RunStatus.TIMED_OUT
    assert (result.cost_usd, result.cost_source) == (None, CostSource.UNKNOWN)
