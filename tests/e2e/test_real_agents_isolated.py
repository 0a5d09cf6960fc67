"""The real CLIs with the network cut off (`sandbox: {network: none}`): each still reaches its
model through Baton's unix-socket relay, and sends the repository's AGENTS.md to it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from adapters.modelserver import Edit, ModelServer, ReplaceText
from bot.stack import Stack, provenance
from tests.e2e.command_agents import OWNER, REPO, the_pr
from tests.e2e.real_agents import MODELS
from tests.e2e.repo_files import CALC, ISSUE_TITLE

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

FIX = Edit(
    changes=(
        ReplaceText(
            "calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"
        ),
    ),
    summary="Fixed add() in calc.py.",
)


@pytest.mark.parametrize("adapter", list(MODELS))
async def test_no_network_but_the_model_and_agents_md_reaches_it(
    adapter: str, installed: Path, tmp_path: Path
) -> None:
    marker = f"house-rule-{uuid.uuid4().hex[:12]}"
    async with ModelServer() as model:
        key = model.register(FIX)
        spec = {"adapter": adapter, "model": MODELS[adapter], "base_url": model.url,
                "api_key_env": "SCRIPTED_MODEL_KEY", "timeout": "2m",
                "sandbox": {"network": "none"}}  # fmt: skip
        yml = f"version: 1\nagents:\n  bot: {json.dumps(spec)}\nroutes:\n  - agent: bot\n"
        env = {"SCRIPTED_MODEL_KEY": key, "BATON_AGENTS_PREFIX": str(installed)}
        # The operator allows the model server as an endpoint (the repository names it).
        settings = {"job_max_attempts": "1", "model_endpoints": model.url}
        async with Stack(workdir=tmp_path, settings=settings, server_env=env) as stack:
            files = {"calc.py": CALC, ".agents.yml": yml,
                     "AGENTS.md": f"# House rules\n\nSign every change: {marker}\n"}  # fmt: skip
            await stack.create_repo(OWNER, "calc", files)
            number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, "add() subtracts.")
            await stack.label(OWNER, REPO, number, "agent:fix")
            [status] = await stack.wait_final(REPO, number, timeout_s=120)
            assert "✅ Done" in status, status
            pr = await the_pr(stack)
            [run] = provenance(pr["body"])["runs"]
            assert run["adapter"] == adapter
        sent = [json.dumps(r.body) for r in model.recorder.model_requests()]
    assert sent, "the CLI never reached its model"
    assert any(marker in body for body in sent), "AGENTS.md did not reach the model"
