"""Orchestration overhead per adapter: Baton's time before and after each CLI, beside the bare CLI.

For every agent, each repetition runs, one after another against one scripted model server:

- **baton**: a labeled issue through the local GitHub emulator and Baton (in this process);
- **bare**: the same adapter (same spec, prompt, env, sandbox setting Baton used) called directly
  on a fresh clone of the same repository state, without the queue, GitHub or git steps;
- **raw**: the same again with the sandbox off, so the CLI is exec'd directly.

Every moment is `time.time()` in this process: the ledger row's `started_at`, the model
server's arrival time of the first model request, the CLI's spawn and exit (around the harness
adapter's process run) and the return of Baton's create-pull call.

    .venv/bin/python bench/adapter_overhead.py [--agents a,b] [--reps N] [--write FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bot.run.agent
from adapters import toolchain
from adapters.harness_run import HarnessAdapter
from adapters.modelserver import Edit, ModelServer, ReplaceText
from adapters.process import ProcessError
from adapters.registry import build_adapter
from bot import gitops
from bot.database import open_database
from bot.github import RepoGitHub
from bot.ledger import Ledger
from bot.stack import Stack
from tests.e2e.repo_files import CALC, FIXED, ISSUE_TITLE
from tests.e2e.repo_files import ISSUE_BODY as SCRIPTED_ISSUE
from tests.e2e.repo_files import agents_yml as scripted_agents_yml

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from adapters.base import AgentEvent, AgentResult, AgentTask, EventSink, Limits
    from adapters.sandbox import SandboxMode
    from config.schema import AgentSpec

MARK = "bench:adapter_overhead"
PREFIX = Path(__file__).resolve().parent.parent / ".cache" / "agents"
OWNER, NAME = "octocat", "calc"
REPO = f"{OWNER}/{NAME}"
KEY_VAR = "SCRIPTED_MODEL_KEY"
MODELS = {
    "claude-code": "claude-sonnet-4-5",
    "codex": "gpt-5-codex",
    "gemini": "gemini-2.5-pro",
    "aider": "openai/gpt-5",
}
AGENTS = ("scripted", *MODELS)
FIXED_WITHIN_S = 0.1  # spans closer than this across agents are called the same
ISSUE_BODY = "`add(2, 3)` in calc.py returns -1; it should return 5."
FIX = Edit(
    changes=(
        ReplaceText(
            "calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"
        ),
    ),
    summary="Fixed add() in calc.py: it subtracted.",
)


class BenchError(Exception):
    """A measured run did not do its job, so its times mean nothing."""


@dataclass(slots=True)
class Probe:
    """Moments (time.time()) of the current run, recorded by wrappers around Baton's calls."""

    call: float = 0.0  # the adapter's run() was called
    returned: float = 0.0  # ... and returned
    spawn: float = 0.0  # the harness adapter starts the CLI's process (sandboxed or not)
    exit: float = 0.0  # ... and the process has exited
    pr: float = 0.0  # Baton's create-pull call returned: the PR is open
    captured: dict[str, Any] = field(default_factory=dict)  # what Baton gave the adapter

    def reset(self) -> None:
        self.call = self.returned = self.spawn = self.exit = self.pr = 0.0
        self.captured = {}


class _TimedAdapter:
    """Records when the wrapped adapter's run starts and ends."""

    def __init__(self, inner: Any, probe: Probe) -> None:
        self.name: str = inner.name
        self._inner = inner
        self._probe = probe

    async def run(
        self, task: AgentTask, workdir: Path, limits: Limits, events: EventSink
    ) -> AgentResult:
        self._probe.captured.update(task=task, limits=limits)
        self._probe.call = time.time()
        try:
            result: AgentResult = await self._inner.run(task, workdir, limits, events)
            return result
        finally:
            self._probe.returned = time.time()


@contextlib.contextmanager
def instrumented(probe: Probe) -> Iterator[None]:
    """Wrap the adapter factory Baton uses, the CLI's process run and the PR creation."""
    execute = HarnessAdapter._execute  # the one place a CLI process runs
    create_pull = RepoGitHub.create_pull

    def factory(**kwargs: Any) -> Any:
        mode = "bubblewrap" if kwargs["runner"].sandboxed else "none"
        probe.captured.update(spec=kwargs["spec"], sandbox=mode,
                              server_env=dict(kwargs["server_env"]))  # fmt: skip
        return _TimedAdapter(build_adapter(**kwargs), probe)

    async def timed_execute(self: HarnessAdapter, *args: Any, **kwargs: Any) -> Any:
        probe.spawn = time.time()
        try:
            return await execute(self, *args, **kwargs)
        finally:
            probe.exit = time.time()

    async def timed_create_pull(self: RepoGitHub, **kwargs: Any) -> Any:
        pr = await create_pull(self, **kwargs)
        probe.pr = time.time()
        return pr

    with (
        mock.patch.object(bot.run.agent, "build_adapter", factory),
        mock.patch.object(HarnessAdapter, "_execute", timed_execute),
        mock.patch.object(RepoGitHub, "create_pull", timed_create_pull),
    ):
        yield


def agents_yml(adapter: str, url: str) -> str:
    spec = {"adapter": adapter, "model": MODELS[adapter], "base_url": url,
            "api_key_env": KEY_VAR, "timeout": "3m"}  # fmt: skip
    return (
        "version: 1\n"
        f"agents:\n  bot: {json.dumps(spec)}\n"
        'routes:\n  - when: {label: "agent:fix"}\n    agent: bot\n'
    )


def first_request(model: ModelServer) -> float:
    requests = model.recorder.model_requests()
    if not requests:
        raise BenchError("the CLI never called the model server")
    return requests[0].wall


async def baton_run(
    agent: str, model: ModelServer, probe: Probe, workdir: Path, seed: Path
) -> dict[str, float]:
    """One labeled issue through Baton (a clone of its repository is left in `seed`)."""
    key = model.register(FIX)
    env = {KEY_VAR: key, "BATON_AGENTS_PREFIX": str(PREFIX),
           "BATON_AGENT_SESSIONS": str(workdir / "sessions")}  # fmt: skip
    # The operator allows the bench's model server as the agents' endpoint (as for any base_url).
    settings = {"job_max_attempts": "1", "model_endpoints": model.url}
    async with Stack(workdir=workdir, settings=settings, server_env=env) as stack:
        if agent == "scripted":
            files = {"calc.py": CALC, ".agents.yml": scripted_agents_yml()}
            body = SCRIPTED_ISSUE
        else:
            files = {"calc.py": CALC, ".agents.yml": agents_yml(agent, model.url)}
            body = ISSUE_BODY
        clone_url = await stack.create_repo(OWNER, NAME, files)
        # The repository state Baton starts from, kept for the bare runs once GitHub is gone.
        await gitops.git("clone", "--quiet", clone_url, str(seed), cwd=workdir)
        number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, body)
        probe.reset()
        model.recorder.clear()
        labeled = time.time()
        await stack.label(OWNER, REPO, number, "agent:fix")
        [status] = await stack.wait_final(REPO, number, timeout_s=240)
        if "✅" not in status:
            raise BenchError(f"{agent}: Baton's run failed:\n{status}")
        conn = open_database(f"sqlite:///{workdir / 'baton.db'}")
        try:
            [row] = Ledger(conn).recent()
        finally:
            conn.close()
    if row.started_at is None or row.finished_at is None or not probe.pr:
        raise BenchError(f"{agent}: the run left no start, finish or PR time")
    # The scripted agent has no process: its run() returning is its "exit".
    exited = probe.exit if agent != "scripted" else probe.returned
    spans = {
        "exit_pr": probe.pr - exited,
        "exit_finished": row.finished_at - exited,
        "label_pr": probe.pr - labeled,
        "start_agent": probe.call - row.started_at,
    }
    if agent != "scripted":
        first = first_request(model)
        spans |= {
            "start_first": first - row.started_at,
            "start_spawn": probe.spawn - row.started_at,
            "spawn_first": first - probe.spawn,
        }
    return spans


async def bare_run(
    model: ModelServer,
    probe: Probe,
    captured: dict[str, Any],
    seed: Path,
    workdir: Path,
    *,
    sandbox: SandboxMode,
) -> dict[str, float]:
    """The adapter Baton built, called directly on a fresh clone with what Baton gave it."""
    spec: AgentSpec = captured["spec"]
    env = dict(captured["server_env"])
    env[KEY_VAR] = model.register(FIX)  # a fresh conversation, as Baton's run had
    await gitops.git("clone", "--quiet", str(seed), str(workdir), cwd=workdir.parent)
    adapter = build_adapter(agent="bot", spec=spec, server_env=env, sandbox=sandbox)
    # Baton's limits, with a scratch of its own: the one Baton's run had went with its area.
    scratch = workdir.with_name(f"{workdir.name}-scratch")
    scratch.mkdir()
    limits = dataclasses.replace(captured["limits"], scratch=scratch)

    async def ignore(_: AgentEvent) -> None:
        return None

    probe.reset()
    model.recorder.clear()
    with instrumented(probe):
        timed = _TimedAdapter(adapter, probe)
        result = await timed.run(captured["task"], workdir, limits, ignore)
    if not result.ok or (workdir / "calc.py").read_text() != FIXED:
        raise BenchError(f"bare {spec.adapter} ({sandbox}) did not fix calc.py: {result.error}")
    first = first_request(model)
    return {
        "call_first": first - probe.call,
        "call_spawn": probe.spawn - probe.call,
        "spawn_first": first - probe.spawn,
        "wall": probe.returned - probe.call,
    }


async def available(agent: str) -> str:
    """Why the agent's CLI cannot run here ("" when it can), installing the pinned version."""
    if agent == "scripted":
        return ""
    try:
        await toolchain.install([agent], PREFIX)
    except ProcessError as exc:
        return f"install failed: {str(exc).splitlines()[0]}"
    found = await toolchain.find(agent, PREFIX)
    return "" if found.path is not None else "not found after install"


def median(runs: Sequence[dict[str, float]], name: str) -> float:
    return statistics.median(r[name] for r in runs)


async def measure(agents: Sequence[str], reps: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "agents": {},
        "skipped": {},
        "reps": reps,
        "versions": {},
        "sandbox": {},
    }
    probe = Probe()
    with ModelServer().in_thread() as model, tempfile.TemporaryDirectory(prefix="baton-") as tmp:
        for agent in agents:
            why = await available(agent)
            if why:
                print(f"skipping {agent}: {why}", file=sys.stderr)
                results["skipped"][agent] = why
                continue
            if agent != "scripted":
                results["versions"][agent] = (await toolchain.find(agent, PREFIX)).version
            runs: dict[str, list[dict[str, float]]] = {"baton": [], "bare": [], "raw": []}
            for rep in range(reps):
                base = Path(tmp) / f"{agent}-{rep}"
                base.mkdir()
                with instrumented(probe):
                    spans = await baton_run(agent, model, probe, base / "stack", base / "seed")
                runs["baton"].append(spans)
                if agent != "scripted":
                    captured = dict(probe.captured)
                    sandbox: SandboxMode = captured["sandbox"]
                    results["sandbox"][agent] = sandbox
                    for side, mode in (("bare", sandbox), ("raw", "none")):
                        runs[side].append(
                            await bare_run(
                                model, probe, captured, base / "seed", base / side, sandbox=mode
                            )
                        )
                print(f"{agent} rep {rep + 1}: " + json.dumps(
                    {side: {k: round(v, 3) for k, v in r[-1].items()}
                     for side, r in runs.items() if r}), file=sys.stderr)  # fmt: skip
            results["agents"][agent] = {
                side: {name: median(r, name) for name in r[0]} for side, r in runs.items() if r
            }
    return results


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000) + 0:d}"  # + 0: no "-0" for a tiny negative


def _span(values: Sequence[float]) -> str:
    return f"{_ms(min(values))} to {_ms(max(values))} ms" if values else "-"


def summary(agents: dict[str, dict[str, dict[str, float]]]) -> str:
    """Baton's own share, side by side with the bare adapter, over every agent measured."""
    real = [m for m in agents.values() if "bare" in m]
    before = [m["baton"]["start_first"] - m["bare"]["call_first"] for m in real]
    after = [m["baton"]["exit_pr"] for m in agents.values()]
    version = [m["bare"]["call_spawn"] for m in real]
    sandbox = [m["bare"]["spawn_first"] - m["raw"]["spawn_first"] for m in real]
    fixed = all(max(v) - min(v) < FIXED_WITHIN_S for v in (before, after) if v)
    noise = all(abs(v) < FIXED_WITHIN_S for v in sandbox)
    return (
        f"**Reading these numbers.** Baton adds {_span(before)} before the CLI's first model "
        f"request over the bare adapter, and {_span(after)} from the CLI's exit to the open PR"
        + (", about the same whatever the CLI. " if fixed else ". ")
        + f"The adapter's own time before the spawn ({_span(version)}, paid by the bare "
        "adapter too) is finding the CLI and its version and making its fresh home. The "
        "sandbox's share "
        f"(bare spawn → first request minus raw) is {_span(sandbox)}"
        + (", within the noise. " if noise else ". ")
        + "Compare figures measured in one run only."
    )


def render(results: dict[str, Any]) -> str:
    agents: dict[str, dict[str, dict[str, float]]] = results["agents"]
    reps = results["reps"]
    versions = ", ".join(f"{a} {v}" for a, v in results["versions"].items())
    modes = ", ".join(sorted(set(results["sandbox"].values()))) or "-"
    lines = [
        f"<!-- {MARK} -->",
        "## Orchestration overhead per adapter",
        "",
        (
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
            "`bench/adapter_overhead.py` (rewritten by `--write`), median of "
            f"{reps} repetitions; one scripted model server for all runs:"
        ),
        "",
        "```",
        ".venv/bin/python bench/adapter_overhead.py --write docs/performance.md",
        "```",
        "",
        (
            f"Machine: {platform.machine()}, Linux {platform.release()}, Python "
            f"{platform.python_version()}. CLIs: {versions or 'none'}."
        ),
        "",
        "Each repetition runs, one after another on the same repository state and prompt:",
        "",
        (
            "- **baton**: a labeled issue through the local GitHub emulator and Baton (server "
            f"and inline worker in the bench's process, SQLite queue), sandbox: {modes};"
        ),
        (
            "- **bare**: the adapter Baton built (same spec, prompt, environment, limits and "
            "sandbox) called directly on a fresh clone: no queue, GitHub or git steps;"
        ),
        (
            "- **raw**: the same with the sandbox off, so the CLI is exec'd directly with its "
            "flags, environment and fresh home."
        ),
        "",
        (
            "Moments are `time.time()` in the bench's process: *job start* is the ledger row's "
            "`started_at` (the run turns RUNNING, after the config is read and the run planned); "
            "*first request* is the model server's arrival time of the first model request; "
            "*spawn*/*exit* are taken around the harness adapter's process run (the sandbox, when "
            "on, starts inside it); *PR open* is when Baton's create-pull call returned."
        ),
        "",
        "Before the model (ms):",
        "",
        (
            "| agent | baton: job start → first request | bare: adapter call → first request "
            "| raw: exec → first request | baton - bare | baton / raw | sandbox's share |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for agent, m in agents.items():
        if "bare" not in m:
            continue
        baton, bare, raw = m["baton"], m["bare"], m["raw"]
        lines.append(
            f"| {agent} | {_ms(baton['start_first'])} | {_ms(bare['call_first'])} | "
            f"{_ms(raw['spawn_first'])} | {_ms(baton['start_first'] - bare['call_first'])} | "
            f"{baton['start_first'] / raw['spawn_first']:.2f} | "
            f"{_ms(bare['spawn_first'] - raw['spawn_first'])} |"
        )
    lines += [
        "",
        (
            "Where Baton's time before the model goes (ms): job start → adapter called "
            "(acknowledgement, label removal, token, worktree), adapter called → CLI spawned "
            "(finding the CLI and its version, sandbox check, fresh home), spawn → first "
            "request (sandbox + CLI start-up):"
        ),
        "",
        "| agent | start → adapter | adapter → spawn | spawn → first request |",
        "|---|---|---|---|",
    ]
    for agent, m in agents.items():
        b = m["baton"]
        if "spawn_first" not in b:
            lines.append(f"| {agent} | {_ms(b['start_agent'])} | - | - |")
            continue
        to_spawn = b["start_spawn"] - b["start_agent"]
        lines.append(
            f"| {agent} | {_ms(b['start_agent'])} | {_ms(to_spawn)} | {_ms(b['spawn_first'])} |"
        )
    lines += [
        "",
        "After the CLI (ms), and whole runs (s):",
        "",
        (
            "| agent | CLI exit → PR open | CLI exit → run finished | baton: label → PR open (s) "
            "| bare wall (s) | raw wall (s) |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for agent, m in agents.items():
        b = m["baton"]
        bare_wall = f"{m['bare']['wall']:.2f}" if "bare" in m else "-"
        raw_wall = f"{m['raw']['wall']:.2f}" if "raw" in m else "-"
        lines.append(f"| {agent} | {_ms(b['exit_pr'])} | {_ms(b['exit_finished'])} | "
                     f"{b['label_pr']:.2f} | {bare_wall} | {raw_wall} |")  # fmt: skip
    lines += [
        "",
        (
            'For the scripted agent (no process) "CLI exit" is its `run()` returning. *CLI exit '
            "→ PR open* covers staging, the policy and secret checks, commit, push and the "
            "create-pull call; *run finished* (the ledger's `finished_at`) adds the check run."
        ),
    ]
    lines += ["", summary(agents)]
    for agent, why in results["skipped"].items():
        lines.append(f"\nSkipped {agent}: {why}.")
    lines.append(f"<!-- /{MARK} -->")
    return "\n".join(lines)


def write(path: Path, section: str) -> None:
    text = path.read_text()
    pattern = re.compile(rf"<!-- {MARK} -->.*?<!-- /{MARK} -->", re.DOTALL)
    placeholder = re.compile(
        r"## Orchestration overhead per adapter\n\n<!-- TODO\(lead\):[^\n]*-->", re.DOTALL
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    elif placeholder.search(text):
        text = placeholder.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", default=",".join(AGENTS), help="comma-separated")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args(argv)
    agents = [a for a in args.agents.split(",") if a]
    unknown = sorted(set(agents) - set(AGENTS))
    if unknown:
        parser.error(f"unknown agents: {', '.join(unknown)} (known: {', '.join(AGENTS)})")
    results = asyncio.run(measure(agents, args.reps))
    section = render(results)
    print(section)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.write:
        write(args.write, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
