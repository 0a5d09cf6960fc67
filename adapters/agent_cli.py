"""`baton agent run AGENT --workdir DIR --prompt TEXT`: one agent on a local checkout."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from adapters.base import AgentEvent, AgentResult, AgentTask, Limits
from adapters.registry import KNOWN_ADAPTERS, AdapterUnavailable, build_adapter
from adapters.runner import Runner, runner_for
from adapters.sandbox import SandboxMode
from config.loader import ConfigError, load_repo_file
from config.merge import effective_config

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import TextIO

    from config.schema import AgentSpec

USAGE = "baton agent run AGENT --workdir DIR --prompt TEXT [--model M] [--timeout S] [--json]"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog="baton agent run", add_help=False,
        description="Run one agent on a local checkout and print the normalized result.",
    )  # fmt: skip
    parser.add_argument("agent", help="an agent of the checkout's .agents.yml or a built-in one")
    parser.add_argument("--workdir", required=True, type=Path, help="the checkout to work in")
    parser.add_argument("--prompt", required=True, help="the task")
    parser.add_argument("--model", default="", help="override the agent's model")
    parser.add_argument("--timeout", type=float, default=None, help="seconds (default: config)")
    parser.add_argument("--max-cost", type=float, default=None, help="USD (default: config)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


@dataclass(frozen=True, slots=True)
class Request:
    agent: str
    workdir: Path
    prompt: str
    model: str
    timeout_s: float | None
    max_cost_usd: float | None
    as_json: bool


def agent_spec(name: str, workdir: Path) -> AgentSpec:
    """The agent as the checkout's `.agents.yml` (over the built-in agents) defines it."""
    path = workdir / ".agents.yml"
    repo = load_repo_file(path.read_text(), file=str(path)) if path.is_file() else None
    config = effective_config(
        repo=repo, org=None, repo_name=workdir.resolve().name, known_adapters=KNOWN_ADAPTERS
    ).config
    if name not in config.agents:
        known = ", ".join(sorted(config.agents))
        raise KeyError(f"no agent named {name!r} (known: {known})")
    return config.agents[name]


def result_json(
    *, agent: str, spec: AgentSpec, result: AgentResult, changed: list[str], duration_s: float
) -> dict[str, Any]:
    """The one object `--json` prints (DESIGN.md, CLI)."""
    return {
        "agent": agent,
        "adapter": spec.adapter,
        "model": result.usage.model or spec.model,
        "status": result.status.value,
        "summary": result.summary or result.error,
        "changed_files": changed,
        "usage": result.usage.as_dict(),
        "cost_usd": result.cost_usd,
        "cost_source": result.cost_source.value,
        "session_id": result.session_id,
        "duration_s": round(duration_s, 3),
    }


async def changed_files(workdir: Path) -> list[str]:
    """Files the run changed, as git sees them (tracked changes and new untracked files).

    The checkout is the user's own, so nested repositories (their submodules) stay; git is
    told to look into none of them and to obey no setting the agent could have written.
    """
    from adapters.process import ProcessError, minimal_env, run  # noqa: PLC0415
    from adapters.untrusted import git_config_env  # noqa: PLC0415

    argv = ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all",
            "--ignore-submodules=all"]  # fmt: skip
    try:
        done = await run(argv, cwd=workdir, env=minimal_env(**git_config_env()), timeout_s=60)
    except ProcessError:
        return []
    entries = [e for e in done.out.split("\0") if e]
    names, skip = [], False
    for entry in entries:
        if skip:  # the source path of a rename
            skip = False
            continue
        names.append(entry[3:])
        skip = entry[0] in "RC"
    return sorted(names)


def _human(data: dict[str, Any], error: str) -> str:
    usage = data["usage"]
    cost = data["cost_usd"]
    cost_text = f"${cost:.4f} ({data['cost_source']})" if cost is not None else "unknown"
    lines = [
        f"agent:    {data['agent']} ({data['adapter']}), model {data['model']}",
        f"status:   {data['status']}" + (f": {error}" if error else ""),
        f"cost:     {cost_text}",
        (
            f"tokens:   {usage['input_tokens']} in, {usage['output_tokens']} out, "
            f"{usage['cache_read_tokens']} cache read, {usage['cache_write_tokens']} cache "
            f"write, {usage['reasoning_tokens']} reasoning, {usage['turns']} turns"
        ),
        f"session:  {data['session_id'] or '-'}",
        f"duration: {data['duration_s']}s",
        "changed:  " + (", ".join(data["changed_files"]) or "nothing"),
        "",
        data["summary"],
    ]
    return "\n".join(lines) + "\n"


async def run_agent(
    req: Request, *, env: Mapping[str, str], runner: Runner, out: TextIO, err: TextIO
) -> int:
    spec = agent_spec(req.agent, req.workdir)
    if req.model:
        spec = spec.model_copy(update={"model": req.model})
    adapter = build_adapter(agent=req.agent, spec=spec, server_env=env, runner=runner)
    limits = Limits(
        timeout_s=req.timeout_s or spec.timeout,
        max_cost_usd=req.max_cost_usd if req.max_cost_usd is not None else spec.max_cost_usd,
    )

    async def progress(event: AgentEvent) -> None:
        # Progress goes to stderr, so stdout stays the one result (or one JSON object).
        if event.text:
            err.write(f"[{req.agent}] {event.kind}: {event.text}\n")
            err.flush()

    started = time.monotonic()
    task = AgentTask(prompt=req.prompt, model=spec.model)
    result = await adapter.run(task, req.workdir.resolve(), limits, progress)
    if not result.usage.model:
        result = replace(result, usage=replace(result.usage, model=spec.model))
    data = result_json(
        agent=req.agent, spec=spec, result=result, changed=await changed_files(req.workdir),
        duration_s=time.monotonic() - started,
    )  # fmt: skip
    if req.as_json:
        out.write(json.dumps(data) + "\n")
        if result.error:
            err.write(f"{result.error}\n")
    else:
        out.write(_human(data, result.error))
    return 0 if result.ok else 1


def agent_main(
    argv: Sequence[str],
    *,
    out: TextIO,
    err: TextIO,
    env: Mapping[str, str] | None = None,
    sandbox: SandboxMode | None = None,
) -> int:
    """`baton agent run ...`; 0 on success, 1 when the run did not succeed, 2 on usage errors."""
    env = dict(os.environ if env is None else env)
    args = list(argv)
    if args[:1] != ["run"]:
        err.write(f"usage: {USAGE}\n")
        return 2
    if {"-h", "--help"} & set(args[1:]):
        out.write(_parser().format_help())
        return 0
    try:
        ns = _parser().parse_args(args[1:])
    except _UsageError as exc:
        err.write(f"baton agent run: {exc}\nusage: {USAGE}\n")
        return 2
    if not ns.workdir.is_dir():
        err.write(f"baton agent run: {ns.workdir} is not a directory\n")
        return 2
    mode: SandboxMode = sandbox or ("none" if env.get("BATON_SANDBOX") == "none" else "bubblewrap")
    req = Request(
        agent=ns.agent, workdir=ns.workdir, prompt=ns.prompt, model=ns.model,
        timeout_s=ns.timeout, max_cost_usd=ns.max_cost, as_json=ns.json,
    )  # fmt: skip
    try:
        runner = runner_for(mode)
        return asyncio.run(run_agent(req, env=env, runner=runner, out=out, err=err))
    except (ConfigError, KeyError, AdapterUnavailable, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) else str(exc)
        err.write(f"baton agent run: {message}\n")
        return 2
