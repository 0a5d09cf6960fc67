"""Comment commands answered without an agent's work: control verbs, usage replies for bad
commands, refusals (permission, bots, org-locked flags) and flags, through the local emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.stack import Stack, make_keys
from tests.e2e.command_agents import (
    OWNER,
    REPO,
    Repo,
    reactions,
    reply,
    review_comment,
    settle,
    the_pr,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
# The repo's agents and the built-in ones (one per harness) it may also use.
AGENTS_HERE = "Agents here: " + ", ".join(
    f"`{a}`"
    for a in ("aider", "claude", "claude-code", "codex", "gemini", "opencode", "qwen", "scripted")
)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = {"job_max_attempts": "2", "sandbox": "none"}
    async with Stack(workdir=tmp_path / "stack", settings=settings) as running:
        yield running


@pytest.fixture
def repo(stack: Stack, tmp_path: Path) -> Repo:
    return Repo(stack, tmp_path)


# -- control verbs, bad commands and refusals ---------------------------------------------------


async def test_control_verbs_answer_at_once(stack: Stack, repo: Repo) -> None:
    number = await repo.create({"claude": "ok", "codex": "ok"})
    comment = await stack.comment(OWNER, REPO, number, "/agent help")
    text = await reply(stack, number)
    assert "Usage: `/agent [AGENT] VERB [--key=value ...]" in text
    assert AGENTS_HERE in text
    assert await reactions(stack, f"issues/comments/{comment}") == {("eyes", "baton[bot]")}

    await stack.comment(OWNER, REPO, number, "/agent status")
    assert "No run is queued or running here." in await reply(stack, number, 2)

    await stack.comment(OWNER, REPO, number, "/agent config")
    text = await reply(stack, number, 3)
    assert "Effective configuration" in text
    assert "claude-model" in text
    assert ".agents.yml" in text  # where each key came from

    await stack.comment(OWNER, REPO, number, "/agent budget")
    text = await reply(stack, number, 4)
    assert "| this repository | $0.0000 | $0.0000 | 0 runs | $0.0000 | no cap | no cap |" in text

    await stack.comment(OWNER, REPO, number, "/agent cancel")
    assert "nothing to cancel" in await reply(stack, number, 5)
    assert await stack.pulls(REPO) == []
    assert await stack.status_comments(REPO, number) == []


async def test_control_verbs_answer_inside_a_review_thread(stack: Stack, repo: Repo) -> None:
    number = await repo.create({"claude": "ok"})
    await stack.comment(OWNER, REPO, number, "/agent fix")
    await stack.wait_final(REPO, number)
    pr = await the_pr(stack)
    comment = await review_comment(stack, OWNER, pr, "notes.txt", "/agent status")
    text = await reply(stack, pr["number"])
    assert "No run is queued or running here." in text
    assert await reactions(stack, f"pulls/comments/{comment}") == {("eyes", "baton[bot]")}


async def test_budget_shows_what_was_spent_and_what_is_left(stack: Stack, repo: Repo) -> None:
    caps = "budget: {monthly_usd: 1, per_requester_monthly_usd: 0.5, per_run_usd: 0.25}\n"
    number = await repo.create({"claude": "ok"}, extra=caps)
    await stack.comment(OWNER, REPO, number, "/agent fix")
    await stack.wait_final(REPO, number)  # one run, reported at $0.0100
    await stack.comment(OWNER, REPO, number, "/agent budget")
    text = await reply(stack, number)
    assert "| this repository | $0.0100 | $0.0000 | 0 runs | $0.0000 | $1.0000 (" in text
    assert "| $0.9900 |" in text
    assert "| the octocat organization | $0.0100 | $0.0000 | 0 runs | $0.0000 | no cap |" in text
    assert "| @octocat | $0.0100 | $0.0000 | 0 runs | $0.0000 | $0.5000 (" in text
    assert "| $0.4900 |" in text
    assert "Per-run cap: $0.2500 (`budget.per_run_usd` (repo file .agents.yml:" in text


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("/agent frobnicate", "`frobnicate` is not a verb Baton knows"),
        ("/agent fix --colour=red", "`--colour` is not a flag Baton accepts"),
        ("/agent fix --max-cost=lots", "`--max-cost=lots` is not a number"),
        ("/agent fix --fresh", "`--fresh` only goes with `retry`"),
        ("/agent compare claude", "`compare` needs two or three different agents"),
        ("/agent status now", "`status` takes no arguments"),
    ],
)
async def test_a_bad_command_gets_the_usage_and_runs_nothing(
    stack: Stack, repo: Repo, command: str, message: str
) -> None:
    number = await repo.create({"claude": "ok", "codex": "ok"})
    await stack.comment(OWNER, REPO, number, command)
    text = await reply(stack, number)
    assert message in text
    assert "Usage: `/agent [AGENT] VERB" in text
    assert AGENTS_HERE in text
    await settle(stack)
    assert await stack.pulls(REPO) == []
    assert not repo.events()


@pytest.mark.parametrize("command", ["/agent gpt9 fix", "/agent compare claude gpt9"])
async def test_an_unknown_agent_is_refused_with_the_valid_ones(
    stack: Stack, repo: Repo, command: str
) -> None:
    number = await repo.create({"claude": "ok", "codex": "ok"})
    await stack.comment(OWNER, REPO, number, command)
    [status] = await stack.wait_final(REPO, number)
    assert "🚫 Not started" in status
    assert "`gpt9` is not an agent this repository knows, so nothing ran." in status
    assert AGENTS_HERE in status
    assert await stack.pulls(REPO) == []
    assert not repo.events()


async def test_permission_is_checked_per_command(stack: Stack, repo: Repo) -> None:
    number = await repo.create({"claude": "ok"})
    stack.hub.create_user("mallory")
    stack.hub.set_permission(REPO, "mallory", "triage")
    await stack.comment("mallory", REPO, number, "/agent fix")
    [status] = await stack.wait_final(REPO, number)
    assert "Sorry @mallory" in status
    assert "`write` permission" in status
    await stack.comment("mallory", REPO, number, "/agent config")
    assert "Sorry @mallory" in await reply(stack, number)
    await settle(stack)
    assert await stack.pulls(REPO) == []
    assert not repo.events()


async def test_bots_need_the_allow_list_and_baton_ignores_itself(stack: Stack, repo: Repo) -> None:
    number = await repo.create({"claude": "ok"})
    keys = make_keys()
    stack.hub.register_app(2, "helper", keys.public_pem, None)
    helper = stack.hub.mint_token(stack.hub.install(2, OWNER)).value
    baton = stack.hub.mint_token(stack.installation_id).value
    await stack.comment(helper, REPO, number, "/agent fix")
    await stack.comment(helper, REPO, number, "/agent help")
    await stack.comment(baton, REPO, number, "/agent help")
    # An edit that adds a command is not a new command.
    edited = await stack.comment(OWNER, REPO, number, "thinking about it")
    async with stack.user(OWNER) as user:
        resp = await user.patch(f"repos/{REPO}/issues/comments/{edited}",
                                json={"body": "/agent fix"})  # fmt: skip
        resp.raise_for_status()
    await settle(stack)
    assert len(await stack.comments(REPO, number)) == 4  # nobody answered
    assert not repo.events()


async def test_an_allow_listed_bot_may_trigger(stack: Stack, repo: Repo) -> None:
    number = await repo.create({"claude": "ok"},
                               extra='triggers: {allow_bots: ["helper[bot]"]}\n')  # fmt: skip
    keys = make_keys()
    stack.hub.register_app(2, "helper", keys.public_pem, None)
    helper = stack.hub.mint_token(stack.hub.install(2, OWNER)).value
    await stack.comment(helper, REPO, number, "/agent fix")
    [status] = await stack.wait_final(REPO, number)
    assert "✅ Done" in status, status


# -- flags -----------------------------------------------------------------------------------------


async def test_a_flag_sets_the_routed_agents_limit(stack: Stack, repo: Repo) -> None:
    number = await repo.create({"claude": "budget"})
    await stack.comment(OWNER, REPO, number, "/agent fix --max-cost=0.05")
    [status] = await stack.wait_final(REPO, number)
    assert "💸 Stopped at budget" in status, status
    assert (
        "`claude` stopped at its cost limit: it had cost $0.1000 (reported) against a cap of "
        "$0.0500, set by `agents.claude.max_cost_usd` (a command flag)."
    ) in status


async def test_a_flag_cannot_change_what_the_org_locks(stack: Stack, repo: Repo) -> None:
    number = await repo.create({"claude": "ok"})
    org = "version: 1\nenforce:\n  agents:\n    claude: {model: claude-model}\n"
    await stack.push_files(OWNER, await settings_repo(stack), {"agents.yml": org},
                           message="Org rules", new_repo=True)  # fmt: skip
    await stack.comment(OWNER, REPO, number, "/agent claude fix --model=claude-opus")
    [status] = await stack.wait_final(REPO, number)
    assert "🚫 Not started" in status
    assert "A flag tried to change a key the organization locks, so nothing ran" in status
    assert "agents.claude.model is locked by the org (octocat/.github:agents.yml" in status
    await stack.comment(OWNER, REPO, number, "/agent config")
    text = await reply(stack, number)
    assert "locked by octocat/.github:agents.yml" in text
    await settle(stack)
    assert not repo.events()
    # The same value as the lock is no change: it runs.
    await stack.comment(OWNER, REPO, number, "/agent claude fix --model=claude-model")
    statuses = await stack.wait_final(REPO, number, count=2)
    assert any("✅ Done" in s for s in statuses), statuses


async def test_a_flag_may_lower_a_locked_cost_cap_but_not_raise_it(
    stack: Stack, repo: Repo
) -> None:
    number = await repo.create({"claude": "budget"})
    org = "version: 1\nenforce:\n  agents:\n    claude: {max_cost_usd: 0.5}\n"
    await stack.push_files(OWNER, await settings_repo(stack), {"agents.yml": org},
                           message="Org rules", new_repo=True)  # fmt: skip
    await stack.comment(OWNER, REPO, number, "/agent claude fix --max-cost=5")
    [status] = await stack.wait_final(REPO, number)
    assert "🚫 Not started" in status, status
    assert "agents.claude.max_cost_usd is locked by the org" in status
    await stack.comment(OWNER, REPO, number, "/agent claude fix --max-cost=0.05")
    statuses = await stack.wait_final(REPO, number, count=2)
    assert any("it had cost $0.1000 (reported) against a cap of $0.0500" in s
               for s in statuses), statuses  # fmt: skip


async def test_a_flag_above_the_per_run_budget_is_told_which_limit_applies(
    stack: Stack, repo: Repo
) -> None:
    number = await repo.create({"claude": "budget"}, extra="budget: {per_run_usd: 0.05}\n")
    await stack.comment(OWNER, REPO, number, "/agent claude fix --max-cost=5")
    [status] = await stack.wait_final(REPO, number)
    assert "💸 Stopped at budget" in status, status
    assert "`--max-cost=5` is above `budget.per_run_usd` (repo file .agents.yml:" in status


async def settings_repo(stack: Stack) -> str:
    async with stack.user(OWNER) as user:
        resp = await user.post("user/repos", json={"name": ".github"})
        resp.raise_for_status()
        return str(resp.json()["clone_url"])
