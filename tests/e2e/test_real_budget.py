"""Nothing lost at the limit, with the real CLIs against the scripted model server: a looping
agent stopped within one model turn of its cap keeps what it wrote in a draft PR and its cost
in the ledger, priced exactly; `on_budget: handoff` lets the next agent add its commits after
the first one's; `/agent continue` resumes the stopped session on the same PR, which then
leaves draft."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from adapters.modelserver import Edit, Loop, ModelServer, Tokens, WriteFile
from adapters.prices import PriceTable
from bot import gitops
from bot.stack import Stack
from tests.e2e.real_agents import MODELS
from tests.e2e.repo_files import CALC, ISSUE_TITLE
from tests.e2e.test_real_agents import expected_usage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from bot.ledger import RunRecord

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
OWNER, REPO = "octocat", "octocat/calc"
# Large turns: a cap of a few turns is crossed in a few seconds of a real CLI. Each turn's tool
# takes a second, as a real model's turn takes seconds: "within one turn" then means something
# (the usage Codex writes after each call is read every half second).
TURN = Tokens(input=20_000, output=2_000, cache_read=0, cache_write=0, reasoning=0)
LOOP = Loop(command="sleep 1; echo baton-loop {turn} >> loop.txt", usage=TURN)
RESUMABLE = ["codex", "claude-code"]


@dataclass(frozen=True)
class Agent:
    name: str
    adapter: str
    scenario: Any
    extra: dict[str, Any]


@dataclass
class Setup:
    stack: Stack
    number: int
    keys: dict[str, str]  # agent name -> its model key (the scenario it plays)


@pytest.fixture
async def model() -> AsyncIterator[ModelServer]:
    async with ModelServer() as server:
        yield server


@pytest.fixture
async def exits() -> AsyncIterator[contextlib.AsyncExitStack]:
    async with contextlib.AsyncExitStack() as stack:
        yield stack


def key_var(name: str) -> str:
    return f"MODEL_KEY_{name.upper()}"


async def setup(
    tmp_path: Path,
    installed: Path,
    model: ModelServer,
    exits: contextlib.AsyncExitStack,
    agents: list[Agent],
    *,
    fallback: bool = False,
) -> Setup:
    keys = {a.name: model.register(a.scenario) for a in agents}
    env = {key_var(n): k for n, k in keys.items()}
    env |= {
        "BATON_AGENTS_PREFIX": str(installed),
        "BATON_AGENT_SESSIONS": str(tmp_path / "sessions"),
    }
    settings = {"job_max_attempts": "1", "model_endpoints": model.url}
    stack = await exits.enter_async_context(
        Stack(workdir=tmp_path, server_env=env, settings=settings)
    )
    specs = {
        a.name: {
            "adapter": a.adapter,
            "model": MODELS[a.adapter],
            "base_url": model.url,
            "api_key_env": key_var(a.name),
            "timeout": "3m",
            **a.extra,
        }
        for a in agents
    }
    route = f"  - agent: {agents[0].name}\n"
    if fallback:
        route += f"    fallback: [{', '.join(a.name for a in agents[1:])}]\n"
    yml = (
        "version: 1\nagents:\n"
        + "".join(f"  {name}: {json.dumps(spec)}\n" for name, spec in specs.items())
        + "routes:\n"
        + route
    )
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": yml})
    number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, "Keep a log in `loop.txt`.")
    await stack.label(OWNER, REPO, number, "agent:fix")
    return Setup(stack=stack, number=number, keys=keys)


def one_turn(adapter: str) -> float:
    priced = PriceTable.load().price(expected_usage(adapter, TURN))
    assert priced is not None
    return priced.cost_usd


def priced(row: RunRecord) -> float:
    from adapters.base import Usage  # noqa: PLC0415

    usage = Usage(
        model=row.model,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        reasoning_tokens=row.reasoning_tokens,
    )
    found = PriceTable.load().price(usage)
    assert found is not None
    return found.cost_usd


async def clone(tmp_path: Path, pr: dict[str, Any], name: str) -> Path:
    path = tmp_path / name
    await gitops.git(
        "clone",
        "-q",
        "--branch",
        pr["head"]["ref"],
        pr["head"]["repo"]["clone_url"],
        str(path),
        cwd=tmp_path,
    )
    return path


async def agents_of_commits(path: Path) -> list[str]:
    out = await gitops.git(
        "log",
        "--reverse",
        "--format=%(trailers:key=Agent,valueonly)",
        "origin/main..HEAD",
        cwd=path,
    )
    return [line.strip() for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("adapter", RESUMABLE)
async def test_a_looping_agent_keeps_its_work_in_a_draft_pr_and_its_cost_priced(
    adapter: str,
    tmp_path: Path,
    installed: Path,
    model: ModelServer,
    exits: contextlib.AsyncExitStack,
) -> None:
    cap = round(one_turn(adapter) * 2.5, 6)  # the third turn crosses it
    agent = Agent("bot", adapter, LOOP, {"max_cost_usd": cap})
    s = await setup(tmp_path, installed, model, exits, [agent])
    [status] = await s.stack.wait_final(REPO, s.number, timeout_s=120)
    assert "💸 Stopped at budget: `bot`" in status, status
    [pr] = await s.stack.pulls(REPO)
    assert pr["draft"] is True
    assert pr["body"].startswith("> 💸 **Stopped at budget.** `bot` stopped at its cost limit")
    assert f"against a cap of ${cap:.4f}" in pr["body"]
    work = await clone(tmp_path, pr, "work")
    assert (work / "loop.txt").read_text().startswith("baton-loop 1\n")  # written before the stop
    row = await s.stack.runtime.services.store.get_run("r1")
    assert row is not None
    assert row.status == "stopped_at_budget"
    assert row.cost_usd is not None
    assert row.cost_usd == pytest.approx(priced(row), abs=1e-9)  # the scripted usage, priced
    assert cap < row.cost_usd <= cap + one_turn(adapter) + 1e-9  # within one turn of the cap


async def test_with_handoff_the_second_agent_commits_after_the_first(
    tmp_path: Path, installed: Path, model: ModelServer, exits: contextlib.AsyncExitStack
) -> None:
    cap = round(one_turn("codex") * 2.5, 6)
    first = Agent("first", "codex", LOOP, {"max_cost_usd": cap, "on_budget": "handoff"})
    finish = Edit(
        changes=(WriteFile("second.txt", "finished by the second agent\n"),),
        summary="Finished the log.",
    )
    second = Agent("second", "claude-code", finish, {})
    s = await setup(tmp_path, installed, model, exits, [first, second], fallback=True)
    [status] = await s.stack.wait_final(REPO, s.number, timeout_s=180)
    assert "✅ Done: `second`" in status, status
    assert "`first` stopped at its cost limit after $" in status
    assert "`second` takes over from its kept work on this branch" in status
    [pr] = await s.stack.pulls(REPO)
    assert pr["draft"] is False
    work = await clone(tmp_path, pr, "work")
    assert await agents_of_commits(work) == ["first", "second"]
    assert (work / "loop.txt").is_file()
    assert (work / "second.txt").read_text() == "finished by the second agent\n"


@pytest.mark.parametrize("adapter", RESUMABLE)
async def test_continue_resumes_the_stopped_session_on_the_same_pr(
    adapter: str,
    tmp_path: Path,
    installed: Path,
    model: ModelServer,
    exits: contextlib.AsyncExitStack,
) -> None:
    cap = round(one_turn(adapter) * 2.5, 6)
    s = await setup(
        tmp_path, installed, model, exits, [Agent("bot", adapter, LOOP, {"max_cost_usd": cap})]
    )
    await s.stack.wait_final(REPO, s.number, timeout_s=120)
    [stopped] = await s.stack.pulls(REPO)
    # The same key now plays the rest of the task: a few more turns (the resumed history already
    # holds the loop's), the last of which writes the file, then the summary.
    rest = Edit(
        changes=(WriteFile("done.txt", "done\n"),) * 8,
        summary="Done now.",
        usage=(Tokens(input=100, output=10),),
    )
    model.register(rest, key=s.keys["bot"])
    await s.stack.comment(OWNER, REPO, stopped["number"], "/agent continue --max-cost=5")
    [status] = await s.stack.wait_final(REPO, stopped["number"], timeout_s=180)
    assert "✅ Done: `bot`" in status, status
    resumed = model.recorder.model_requests(scenario="edit")[0]
    assert "baton-loop 1" in json.dumps(resumed.body)  # the stopped session's history reached it
    [pr] = await s.stack.pulls(REPO)
    assert pr["number"] == stopped["number"]
    assert pr["draft"] is False
    work = await clone(tmp_path, pr, "work")
    assert await agents_of_commits(work) == ["bot", "bot"]
    assert (work / "done.txt").read_text() == "done\n"
