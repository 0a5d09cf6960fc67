"""The real agent CLIs through the whole loop: a labeled issue routed to Claude Code, Codex,
Gemini CLI, Aider, OpenCode or Qwen Code (pinned, sandboxed) against the scripted model server
yields a PR whose change the CLI made, with the tokens and cost the run really used."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from adapters.base import Usage
from adapters.modelserver import Edit, Hang, HttpError, Loop, ModelServer, ReplaceText, Tokens
from adapters.prices import PriceTable
from adapters.process import minimal_env, run
from bot import gitops
from bot.database import open_database
from bot.ledger import Ledger
from bot.stack import Stack, provenance
from tests.e2e.real_agents import MODELS
from tests.e2e.repo_files import CALC, ISSUE_TITLE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

OWNER, REPO = "octocat", "octocat/calc"
KEY_VAR = "SCRIPTED_MODEL_KEY"
AGENTS = list(MODELS)
# Distinct counts per turn, so a dropped or repeated turn cannot match by accident.
TURNS = (
    Tokens(input=1000, output=50, cache_read=200, cache_write=100, reasoning=10),
    Tokens(input=300, output=7, cache_read=20, cache_write=3, reasoning=2),
    Tokens(input=11, output=13, cache_read=17, cache_write=19, reasoning=5),
)
FIX = Edit(
    changes=(
        ReplaceText(
            "calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"
        ),
    ),
    summary="Fixed add() in calc.py: it subtracted.",
    usage=TURNS,
)
ISSUE_BODY = "`add(2, 3)` in calc.py returns -1; it should return 5."
FAILS_WITH = {
    ("claude-code", 401): "401", ("codex", 401): "401", ("gemini", 401): "401",
    ("aider", 401): "AuthenticationError",
    ("claude-code", 500): "500", ("codex", 500): "experiencing high demand",
    ("gemini", 500): "500",
    ("aider", 500): "InternalServerError",
    ("opencode", 401): "HTTP 401", ("opencode", 500): "failed 3 times in a row: ",
    ("qwen", 401): "[API Error: 401 scripted failure]", ("qwen", 500): "failed 3 times (HTTP 500)",
}  # fmt: skip
# Model requests a CLI makes before it gives up on an API that keeps failing: its own retries
# as Baton caps them (Claude Code: CLAUDE_CODE_MAX_RETRIES 2; Codex: request and stream retries
# 2 each; Gemini CLI and OpenCode: 3 attempts; Qwen Code: 3; Aider: 2 retries of the SDK's 3).
MAX_ERROR_REQUESTS = {
    "claude-code": 3,
    "codex": 9,
    "gemini": 3,
    "aider": 9,
    "opencode": 3,
    "qwen": 3,
}


@pytest.fixture
async def model() -> AsyncIterator[ModelServer]:
    async with ModelServer() as server:
        yield server


def agents_yml(adapter: str, url: str, timeout: str = "2m", max_cost: float | None = None) -> str:
    spec: dict[str, Any] = {
        "adapter": adapter, "model": MODELS[adapter], "base_url": url, "api_key_env": KEY_VAR,
        "timeout": timeout,
    }  # fmt: skip
    if max_cost is not None:
        spec["max_cost_usd"] = max_cost
    return (
        "version: 1\n"
        f"agents:\n  bot: {json.dumps(spec)}\n"
        'routes:\n  - when: {label: "agent:fix"}\n    agent: bot\n'
    )


@dataclass(frozen=True)
class Started:
    stack: Stack
    number: int
    key: str  # the scenario's model key: only this run's processes hold it
    clone_url: str


@pytest.fixture
async def start(
    installed: Path, model: ModelServer, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Started]]]:
    """Start a Stack whose server env holds the scenario's key; open the issue; label it."""
    async with contextlib.AsyncExitStack() as stacks:

        async def go(
            adapter: str, scenario: Any, limit: str = "2m", max_cost: float | None = None
        ) -> Started:
            key = model.register(scenario)
            env = {KEY_VAR: key, "BATON_AGENTS_PREFIX": str(installed),
                   "BATON_AGENT_SESSIONS": str(tmp_path / "sessions")}  # fmt: skip
            stack = await stacks.enter_async_context(
                Stack(
                    workdir=tmp_path,
                    server_env=env,
                    settings={"job_max_attempts": "1", "model_endpoints": model.url},
                )
            )
            yml = agents_yml(adapter, model.url, limit, max_cost)
            files = {"calc.py": CALC, ".agents.yml": yml}
            clone_url = await stack.create_repo(OWNER, "calc", files)
            number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
            await stack.label(OWNER, REPO, number, "agent:fix")
            return Started(stack=stack, number=number, key=key, clone_url=clone_url)

        yield go


def sent(server: ModelServer) -> Tokens:
    total = Tokens()
    for request in server.recorder.model_requests():
        if request.usage is not None:
            total += request.usage
    return total


def expected_usage(adapter: str, t: Tokens) -> Usage:
    """The run's usage in Baton's terms, from what the server reported and how each CLI counts."""
    model = MODELS[adapter]
    if adapter == "gemini":  # no cache writes in Gemini's counts: they are prompt tokens
        return Usage(model=model, input_tokens=t.input + t.cache_write, output_tokens=t.output,
                     cache_read_tokens=t.cache_read, reasoning_tokens=t.reasoning)  # fmt: skip
    if adapter in {"opencode", "qwen"}:  # cache writes are prompt tokens in Chat Completions
        reasoning = t.reasoning if adapter == "opencode" else 0  # Qwen does not split it out
        return Usage(model=model, input_tokens=t.input + t.cache_write, output_tokens=t.output,
                     cache_read_tokens=t.cache_read, reasoning_tokens=reasoning)  # fmt: skip
    if adapter == "aider":  # prompt_tokens include every cached token; no reasoning split
        return Usage(model=model, input_tokens=t.input + t.cache_read + t.cache_write,
                     output_tokens=t.output)  # fmt: skip
    reasoning = t.reasoning if adapter == "codex" else 0
    return Usage(model=model, input_tokens=t.input, output_tokens=t.output,
                 cache_read_tokens=t.cache_read, cache_write_tokens=t.cache_write,
                 reasoning_tokens=reasoning)  # fmt: skip


def expected_cost(adapter: str, usage: Usage, t: Tokens) -> tuple[float, str]:
    table = PriceTable.load()
    if adapter == "aider":
        # litellm prices cache reads at their rate and everything else at the input rate.
        billed = Usage(model=usage.model, input_tokens=t.input + t.cache_write,
                       output_tokens=t.output, cache_read_tokens=t.cache_read)  # fmt: skip
        priced = table.price(billed)
        assert priced is not None
        return priced.cost_usd, "reported"
    priced = table.price(usage)
    assert priced is not None
    return priced.cost_usd, "reported" if adapter in {"claude-code", "opencode"} else "priced"


def processes_with(secret: str) -> list[int]:
    """Processes whose environment holds this run's model key (the agent and its sandbox)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if secret.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


async def until(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("adapter", AGENTS)
async def test_labeled_issue_gets_the_real_clis_change(
    adapter: str, start: Any, model: ModelServer, tmp_path: Path
) -> None:
    started = await start(adapter, FIX)
    stack, number = started.stack, started.number
    [status] = await stack.wait_final(REPO, number, timeout_s=120)
    assert "✅ Done" in status, status
    [pr] = await stack.pulls(REPO)
    usage = expected_usage(adapter, sent(model))
    cost, source = expected_cost(adapter, usage, sent(model))
    [run_] = provenance(pr["body"])["runs"]
    assert (run_["agent"], run_["adapter"], run_["model"]) == ("bot", adapter, MODELS[adapter])
    assert (run_["input_tokens"], run_["output_tokens"]) == (usage.input_tokens,
                                                             usage.output_tokens)  # fmt: skip
    assert run_["cost_usd"] == pytest.approx(cost, abs=1e-6)
    assert run_["cost_source"] == source
    if source == "priced":
        assert "priced, table of 2026-11-24" in pr["body"]

    conn = open_database(f"sqlite:///{stack.workdir / 'baton.db'}")
    [row] = Ledger(conn).recent()
    conn.close()
    assert (row.cache_read_tokens, row.cache_write_tokens, row.reasoning_tokens) == (
        usage.cache_read_tokens, usage.cache_write_tokens, usage.reasoning_tokens,
    )  # fmt: skip
    assert row.harness_version
    # The brief reached the model, and the branch holds exactly the CLI's edit.
    assert ISSUE_BODY in json.dumps(model.recorder.model_requests()[0].body)
    clone = tmp_path / "check"
    await gitops.git("clone", "-q", "--branch", pr["head"]["ref"],
                     pr["head"]["repo"]["clone_url"], str(clone), cwd=tmp_path)  # fmt: skip
    assert (clone / "calc.py").read_text() == CALC.replace("return a - b", "return a + b", 1)
    changed = await gitops.git("diff", "--name-only", "HEAD~1", cwd=clone)
    assert changed.split() == ["calc.py"]


@pytest.mark.parametrize("http_status", [401, 500])
@pytest.mark.parametrize("adapter", AGENTS)
async def test_model_api_error_fails_the_run_with_its_reason(
    adapter: str, http_status: int, start: Any, model: ModelServer
) -> None:
    started = await start(adapter, HttpError(status=http_status, message="scripted failure"))
    stack, number = started.stack, started.number
    [status] = await stack.wait_final(REPO, number, timeout_s=300)
    assert f"❌ Failed: `bot` ({adapter}, {MODELS[adapter]})" in status, status
    assert f"bot ({adapter}) failed: " in status, status
    assert FAILS_WITH[adapter, http_status] in status, status
    # The CLI's own retries of a server error are capped: the fallback agents do the rest.
    assert 1 <= len(model.recorder.model_requests()) <= MAX_ERROR_REQUESTS[adapter]
    assert await stack.pulls(REPO) == []


@pytest.mark.parametrize("adapter", AGENTS)
async def test_hanging_model_is_ended_by_the_timeout(adapter: str, start: Any) -> None:
    started = await start(adapter, Hang(), "4s")
    stack, number, key = started.stack, started.number, started.key
    [status] = await stack.wait_final(REPO, number, timeout_s=60)
    assert "⏱️" in status, status
    await until(lambda: not processes_with(key), "the agent's processes to be gone", 10)
    assert await stack.pulls(REPO) == []


# Aider is left out: it has no tool loop, so it ends after one reply however the model answers.
@pytest.mark.parametrize("adapter", ["claude-code", "codex", "gemini", "opencode", "qwen"])
async def test_a_looping_agent_is_stopped_at_its_budget_mid_run(
    adapter: str, start: Any, model: ModelServer
) -> None:
    cap = 0.01  # a handful of the loop's model calls
    started = await start(adapter, Loop(), "5m", cap)
    stack, number, key = started.stack, started.number, started.key
    # The loop never ends by itself: only its cap (💸) or its timeout (⏱️) ends it, so the
    # status says which came first however slow the machine is. A stop that waited for the end
    # of the run would be a time-out.
    [status] = await stack.wait_final(REPO, number, timeout_s=420)
    assert "💸 Stopped at budget" in status, status
    await until(lambda: not processes_with(key), "the agent's processes to be gone", 10)
    assert len(model.recorder.model_requests()) >= 3  # it was stopped in the loop, not at once
    conn = open_database(f"sqlite:///{stack.workdir / 'baton.db'}")
    [row] = Ledger(conn).recent()
    conn.close()
    assert row.cost_usd is not None
    assert row.cost_usd > cap
    assert row.cost_source == ("reported" if adapter in {"claude-code", "opencode"} else "priced")
    assert await stack.pulls(REPO) == []


@pytest.mark.parametrize("adapter", AGENTS)
async def test_cancel_kills_the_agent_and_pushes_nothing(
    adapter: str, start: Any, model: ModelServer, tmp_path: Path
) -> None:
    started = await start(adapter, Hang())
    stack, number, key = started.stack, started.number, started.key
    await until(lambda: bool(model.recorder.model_requests()), "the agent to call its model")
    assert processes_with(key)
    await stack.comment(OWNER, REPO, number, "/agent cancel")
    [status] = await stack.wait_final(REPO, number, timeout_s=30)
    assert "🛑 Cancelled." in status, status
    await until(lambda: not processes_with(key), "the agent's processes to be gone", 10)
    assert await stack.pulls(REPO) == []
    refs = await gitops.git("ls-remote", "--heads", started.clone_url, cwd=tmp_path)
    assert "baton/" not in refs


@pytest.mark.parametrize("adapter", AGENTS)
async def test_agent_run_prints_the_documented_json(
    adapter: str, installed: Path, model: ModelServer, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "calc.py").write_text(CALC)
    (work / ".agents.yml").write_text(agents_yml(adapter, model.url))
    env = minimal_env(HOME=str(tmp_path))
    commit = ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"]
    for step in (["init", "-q"], ["add", "-A"], commit):
        await run(["git", *step], cwd=work, env=env)
    env |= {KEY_VAR: model.register(FIX), "BATON_AGENTS_PREFIX": str(installed),
            "BATON_AGENT_SESSIONS": str(tmp_path / "sessions"),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # fmt: skip
    argv = [sys.executable, "-m", "bot.cli", "agent", "run", "bot", "--workdir", str(work)]
    done = await run([*argv, "--prompt", f"{ISSUE_TITLE}\n\n{ISSUE_BODY}", "--json"],
                     cwd=tmp_path, env=env, timeout_s=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.err
    data = json.loads(done.out)  # exactly one object: anything else on stdout fails here
    usage = expected_usage(adapter, sent(model))
    cost, source = expected_cost(adapter, usage, sent(model))
    assert set(data) == {
        "agent", "adapter", "model", "status", "summary", "changed_files", "usage", "cost_usd",
        "cost_source", "session_id", "duration_s",
    }  # fmt: skip
    assert (data["agent"], data["adapter"], data["model"]) == ("bot", adapter, MODELS[adapter])
    assert (data["status"], data["summary"]) == ("success", FIX.summary)
    assert data["changed_files"] == ["calc.py"]
    assert {k: v for k, v in data["usage"].items() if k != "turns"} == {
        k: v for k, v in usage.as_dict().items() if k != "turns"
    }
    assert data["usage"]["turns"] >= 1
    assert data["cost_usd"] == pytest.approx(cost, abs=1e-6)
    assert data["cost_source"] == source
    assert data["session_id"]
    assert "started" in done.err  # progress went to stderr
