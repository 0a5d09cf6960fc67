"""The `command` adapter: any CLI declared in `.agents.yml` (argv template, env, output paths)."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from adapters.outputlog import OutputLog
from adapters.process import ProcessError, base_env
from adapters.runlimits import LimitError
from adapters.runner import Places, ProcessJob
from adapters.sandbox import SandboxError, SandboxUnavailable, git_common_dir
from config.guard import MODEL_KEYS, never_expanded

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.runner import Runner
    from config.schema import AgentSpec, OutputSpec

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLACEHOLDERS = ("prompt_file", "prompt", "model", "workdir", "session_id")


class _BudgetExceeded(Exception):
    def __init__(self, cost: float) -> None:
        self.cost = cost


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def expand_env(
    template: Mapping[str, str], server_env: Mapping[str, str], *, own_key: str | None = None
) -> dict[str, str]:
    """`${VAR}` takes VAR from the server's environment: only the variables a config names.

    The config check refuses what the operator did not allow; this is the last wall behind it:
    Baton's and GitHub's credentials, and model keys not this agent's own, expand to nothing.
    """

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if never_expanded(name) or (name in MODEL_KEYS and name != own_key):
            return ""
        return server_env.get(name, "")

    return {key: _VAR.sub(value_of, value) for key, value in template.items()}


def render_argv(template: list[str], values: Mapping[str, str]) -> list[str]:
    out = []
    for arg in template:
        rendered = arg
        for name in _PLACEHOLDERS:
            if name in values:
                rendered = rendered.replace("{" + name + "}", values[name])
        out.append(rendered)
    return out


class ParsedOutput:
    """What the output spec reads from stdout; for jsonl the last line carrying a field wins."""

    def __init__(self, spec: OutputSpec) -> None:
        self.spec = spec
        self.values: dict[str, Any] = {}

    def feed_object(self, obj: Any) -> None:
        for field in (
            "summary",
            "session_id",
            "cost_usd",
            "model",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "turns",
        ):
            path = getattr(self.spec, field)
            if path:
                value = _dig(obj, path)
                if value is not None:
                    self.values[field] = value

    def feed_line(self, line: str) -> None:
        line = line.strip()
        if not line.startswith("{"):
            return
        try:
            obj = json.loads(line)
        except ValueError:
            return
        self.feed_object(obj)

    def int_(self, name: str) -> int:
        value = self.values.get(name)
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0

    def cost(self) -> float | None:
        value = self.values.get("cost_usd")
        return float(value) if isinstance(value, int | float) else None


class CommandAdapter(AgentAdapter):
    name = "command"

    def __init__(
        self,
        *,
        spec: AgentSpec,
        agent: str,
        server_env: Mapping[str, str],
        runner: Runner,
    ) -> None:
        if not spec.command:
            raise ValueError(f"agent {agent!r} uses the command adapter but sets no `command`")
        self._spec = spec
        self._agent = agent
        self._server_env = server_env
        self._runner = runner

    async def run(
        self, task: AgentTask, workdir: Path, limits: Limits, events: EventSink
    ) -> AgentResult:
        spec = self._spec
        assert spec.command is not None
        parsed = ParsedOutput(spec.output)
        model = task.model or spec.model
        # Inside the run's bounded area when the caller gives one: HOME counts against its disk.
        with tempfile.TemporaryDirectory(prefix="baton-cmd-", dir=limits.scratch) as tmp:
            # The prompt lives outside the worktree (never committed), read-only in the sandbox.
            inputs = Path(tmp) / "input"
            inputs.mkdir()
            prompt_file = inputs / "prompt.md"
            prompt_file.write_text(task.prompt)
            home = Path(tmp) / "home"
            home.mkdir()
            places = Places(worktree=workdir.resolve(), home=home, inputs=inputs)
            values = {
                "prompt_file": str(self._runner.inside(prompt_file, places)),
                "prompt": task.prompt,
                "model": model,
                "workdir": str(self._runner.inside(places.worktree, places)),
            }
            argv = render_argv(spec.command, values)
            if task.resume_session_id and spec.resume:
                # A follow-up to this agent: it picks its session up; the brief is there too.
                argv += render_argv(spec.resume, {**values, "session_id": task.resume_session_id})
            # The child sees a clean environment: PATH, a fresh HOME, and what the config names.
            env = base_env(
                self._runner.inside(home, places),
                expand_env(spec.env, self._server_env, own_key=spec.api_key_env),
            )

            # What it prints is the run's agent log (it streams nothing Baton reads as turns).
            output = OutputLog(events)

            async def on_line(line: str) -> None:
                await output.stdout(line)
                if spec.output.format != "jsonl":
                    return
                parsed.feed_line(line)
                cost = parsed.cost()
                if cost is not None:
                    await events(AgentEvent(kind="usage", cost_usd=cost))
                    if limits.max_cost_usd is not None and cost > limits.max_cost_usd:
                        raise _BudgetExceeded(cost)

            job = ProcessJob(
                name=self._agent,
                argv=tuple(argv),
                places=places,
                env=env,
                git_dir=git_common_dir(workdir),
                network=spec.sandbox.network,
                model_endpoint=spec.base_url,
                resources=limits.resources,
                timeout_s=limits.timeout_s,
            )
            try:
                done = await self._runner.run(
                    job, on_stdout_line=on_line, on_stderr_line=output.stderr
                )
            except (SandboxUnavailable, SandboxError, LimitError) as exc:
                await output.close()
                return self._result(parsed, model, RunStatus.FAILED, error=str(exc))
            except _BudgetExceeded as stop:
                await output.close()
                return self._result(
                    parsed,
                    model,
                    RunStatus.BUDGET,
                    error=f"stopped at ${stop.cost:.4f}, over the "
                    f"${limits.max_cost_usd:.4f} limit of this run",
                )
            except ProcessError as exc:
                await output.close()
                return self._result(parsed, model, RunStatus.FAILED, error=str(exc))
            await output.close()
        if spec.output.format == "json":
            try:
                parsed.feed_object(json.loads(done.out))
            except ValueError:
                return self._result(
                    parsed,
                    model,
                    RunStatus.FAILED,
                    error="the command's output is not the JSON object its "
                    "`output.format: json` promises",
                )
        elif spec.output.format == "text":
            parsed.values.setdefault("summary", done.out.strip()[-4000:])
        if done.timed_out:
            return self._result(
                parsed,
                model,
                RunStatus.TIMED_OUT,
                error=f"no result within {limits.timeout_s:.0f}s",
            )
        if done.returncode != 0:
            tail = " | ".join(done.err.strip().splitlines()[-5:])
            return self._result(
                parsed, model, RunStatus.FAILED, error=f"{argv[0]} exited {done.returncode}: {tail}"
            )
        return self._result(parsed, model, RunStatus.SUCCESS)

    def _result(
        self, parsed: ParsedOutput, model: str, status: RunStatus, error: str = ""
    ) -> AgentResult:
        usage = Usage(
            model=str(parsed.values.get("model") or model),
            input_tokens=parsed.int_("input_tokens"),
            output_tokens=parsed.int_("output_tokens"),
            cache_read_tokens=parsed.int_("cache_read_tokens"),
            cache_write_tokens=parsed.int_("cache_write_tokens"),
            reasoning_tokens=parsed.int_("reasoning_tokens"),
            turns=parsed.int_("turns"),
        )
        cost = parsed.cost()
        session = parsed.values.get("session_id")
        return AgentResult(
            status=status,
            summary=str(parsed.values.get("summary") or ""),
            usage=usage,
            cost_usd=cost,
            cost_source=CostSource.REPORTED if cost is not None else CostSource.UNKNOWN,
            session_id=str(session) if session is not None else None,
            error=error,
        )
