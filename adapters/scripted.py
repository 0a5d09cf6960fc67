"""The built-in `scripted` agent: applies the patch a task carries, reports fixed usage.

It stands in for a model in `baton demo` and in tests of the run lifecycle: deterministic, free,
no sandbox needed (it runs no code of the task's, only `git apply` on the ```diff block it finds).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from adapters.base import (
    AgentAdapter,
    AgentEvent,
    AgentResult,
    AgentTask,
    CostSource,
    EventSink,
    Limits,
    RunStatus,
    Usage,
)
from adapters.process import ProcessError, minimal_env, run

if TYPE_CHECKING:
    from pathlib import Path

SCRIPTED_MODEL = "scripted-1"
SCRIPTED_VERSION = "1.0"
# Fixed usage, priced at a nominal $3/M input and $15/M output, so the demo shows real arithmetic.
USAGE = Usage(model=SCRIPTED_MODEL, input_tokens=1200, output_tokens=340, turns=1)
COST_USD = round(1200 * 3e-6 + 340 * 15e-6, 6)

_DIFF_BLOCK = re.compile(r"```diff[^\n]*\n(.*?)```", re.DOTALL)


def find_patch(text: str) -> str | None:
    """The last ```diff block of the task (the issue's proposed fix, or a later correction)."""
    blocks = _DIFF_BLOCK.findall(text)
    if not blocks:
        return None
    patch: str = blocks[-1]
    return patch if patch.endswith("\n") else patch + "\n"


class ScriptedAdapter(AgentAdapter):
    name = "scripted"

    def __init__(self, *, model: str = "") -> None:
        self._model = model or SCRIPTED_MODEL

    async def run(
        self, task: AgentTask, workdir: Path, limits: Limits, events: EventSink
    ) -> AgentResult:
        await events(AgentEvent(kind="started", text=f"scripted agent on {workdir.name}"))
        usage = Usage(
            model=task.model or self._model,
            input_tokens=USAGE.input_tokens,
            output_tokens=USAGE.output_tokens,
            turns=USAGE.turns,
        )
        patch = find_patch(task.prompt)
        if patch is None:
            return AgentResult(
                status=RunStatus.FAILED,
                usage=usage,
                error="the scripted agent found no ```diff block in the task to apply; "
                "put the proposed patch in the issue, or route this label to a real agent",
                harness_version=SCRIPTED_VERSION,
            )
        if limits.max_cost_usd is not None and limits.max_cost_usd < COST_USD:
            return AgentResult(
                status=RunStatus.BUDGET,
                usage=usage,
                error=f"a run costs ${COST_USD:.4f}, above the limit ${limits.max_cost_usd:.4f}",
                harness_version=SCRIPTED_VERSION,
            )
        try:
            await run(
                ["git", "apply", "--whitespace=nowarn", "--recount", "-"],
                cwd=workdir,
                env=minimal_env(),
                stdin=patch.encode(),
                timeout_s=min(limits.timeout_s, 60.0),
            )
        except ProcessError as exc:
            return AgentResult(
                status=RunStatus.FAILED,
                usage=usage,
                error=f"the patch in the task does not apply: {exc.stderr.strip()[-300:]}",
                harness_version=SCRIPTED_VERSION,
            )
        await events(AgentEvent(kind="usage", usage=usage, cost_usd=COST_USD))
        files = sorted(set(re.findall(r"^\+\+\+ b/(\S+)", patch, re.MULTILINE)))
        summary = (
            "Applied the patch proposed in the task to " + ", ".join(f"`{f}`" for f in files) + "."
        )
        return AgentResult(
            status=RunStatus.SUCCESS,
            summary=summary,
            usage=usage,
            cost_usd=COST_USD,
            cost_source=CostSource.REPORTED,
            harness_version=SCRIPTED_VERSION,
        )
