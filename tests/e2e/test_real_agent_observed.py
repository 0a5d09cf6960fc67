"""A real agent CLI (Claude Code, pinned, sandboxed, against the scripted model server) watched
the way an operator watches it: its trace reaches a real OTLP/HTTP receiver with a `chat` span
per turn and an `execute_tool` span per tool call under `invoke_agent`, carrying the tokens and
the cost the CLI reported; the dashboard's run page shows the same turns and tool calls."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import pytest

from adapters.modelserver import Edit, ModelServer, ReplaceText, Tokens
from adapters.toolchain import install
from bot.stack import Stack
from tests.e2e.real_agents import MODELS, PREFIX
from tests.e2e.repo_files import CALC, ISSUE_TITLE
from tests.telemetry.otlp_receiver import Receiver

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
REPO, KEY_VAR, ADAPTER = "octocat/calc", "SCRIPTED_MODEL_KEY", "claude-code"
FIX = Edit(
    changes=(
        ReplaceText(
            "calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"
        ),
    ),
    summary="Fixed add() in calc.py: it subtracted.",
    usage=(Tokens(input=900, output=40), Tokens(input=120, output=9)),
)


async def test_a_real_cli_is_traced_turn_by_turn_and_shown_on_its_page(
    tmp_path: Path, sandbox_ready: None
) -> None:
    await install([ADAPTER], PREFIX)
    with Receiver() as receiver:
        async with ModelServer() as model:
            spec = {"adapter": ADAPTER, "model": MODELS[ADAPTER], "base_url": model.url,
                    "api_key_env": KEY_VAR, "timeout": "2m"}  # fmt: skip
            yml = f"version: 1\nagents:\n  bot: {json.dumps(spec)}\nroutes:\n  - agent: bot\n"
            env = {KEY_VAR: model.register(FIX), "BATON_AGENTS_PREFIX": str(PREFIX),
                   "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}  # fmt: skip
            settings = {"job_max_attempts": "1", "model_endpoints": model.url}
            async with Stack(workdir=tmp_path, server_env=env, settings=settings) as stack:
                await stack.create_repo("octocat", "calc", {"calc.py": CALC, ".agents.yml": yml})
                number = await stack.open_issue("octocat", REPO, ISSUE_TITLE, "add() subtracts")
                await stack.label("octocat", REPO, number, "agent:fix")
                [status] = await stack.wait_final(REPO, number, timeout_s=180)
                assert "✅ Done" in status, status
                [run] = await stack.runtime.services.store.runs_for_target(REPO, number)
                headers = {"Authorization": f"Bearer {stack.dashboard_token}"}
                async with httpx.AsyncClient(base_url=stack.baton_url, headers=headers) as web:
                    page = (await web.get(f"/runs/{run.id}")).text
    [agent] = receiver.named("invoke_agent bot")
    turns = [s for s in receiver.spans if s.name.startswith("chat ")]
    tools = [s for s in receiver.spans if s.name.startswith("execute_tool ")]
    assert len(turns) >= 1
    assert all(t.parent_id == agent.span_id for t in turns)
    assert tools, [s.name for s in receiver.spans]
    assert {t.parent_id for t in tools} <= {agent.span_id, *(t.span_id for t in turns)}
    assert agent.attributes["gen_ai.usage.input_tokens"] == run.input_tokens
    assert agent.attributes["gen_ai.usage.output_tokens"] == run.output_tokens
    assert agent.attributes["gen_ai.usage.cost"] == run.cost_usd
    assert agent.attributes["baton.cost.source"] == "reported"
    assert "turn 1" in page
    assert run.repo in page
    assert env[KEY_VAR] not in page
