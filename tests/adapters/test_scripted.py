"""The built-in scripted agent applies the task's patch and reports fixed usage."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adapters.base import AgentTask, CostSource, Limits, RunStatus, discard_events
from adapters.scripted import COST_USD, ScriptedAdapter, find_patch

pytestmark = pytest.mark.anyio

PATCH = """```diff
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
```"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def test_find_patch_takes_the_last_block() -> None:
    assert find_patch("no patch here") is None
    assert find_patch(f"first\n{PATCH}\nsecond\n{PATCH.replace('a + b', 'b + a')}") is not None


async def test_applies_the_patch(repo: Path) -> None:
    result = await ScriptedAdapter().run(
        AgentTask(prompt=f"Fix it:\n{PATCH}"), repo, Limits(), discard_events
    )
    assert result.status is RunStatus.SUCCESS
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert result.cost_usd == COST_USD
    assert result.cost_source is CostSource.REPORTED
    assert result.usage.input_tokens == 1200
    assert "`calc.py`" in result.summary


async def test_no_patch_fails_with_guidance(repo: Path) -> None:
    result = await ScriptedAdapter().run(AgentTask(prompt="fix"), repo, Limits(), discard_events)
    assert result.status is RunStatus.FAILED
    assert "```diff" in result.error


async def test_patch_that_does_not_apply(repo: Path) -> None:
    (repo / "calc.py").write_text("something else\n")
    result = await ScriptedAdapter().run(AgentTask(prompt=PATCH), repo, Limits(), discard_events)
    assert result.status is RunStatus.FAILED
    assert "does not apply" in result.error


async def test_budget_below_the_run_cost(repo: Path) -> None:
    result = await ScriptedAdapter().run(
        AgentTask(prompt=PATCH), repo, Limits(max_cost_usd=0.001), discard_events
    )
    assert result.status is RunStatus.BUDGET
    assert (repo / "calc.py").read_text().endswith("a - b\n")
