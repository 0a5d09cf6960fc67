"""Nothing lost at the limit: an agent stopped at its cost cap or its timeout keeps its work in a
draft PR that says so; `on_budget`/`on_timeout: handoff` lets the next agent continue from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.stack import provenance
from tests.bot.run.flow import (
    OWNER,
    REPO,
    branch_files,
    check_runs,
    command_agent,
    commits_on,
    fake,
    heads,
    labeled,
    run_events,
    start,
    writes,
    yml,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio
CAPPED = command_agent("writer", max_cost_usd="0.1")
COSTS = (0.04, 0.08, 0.12, 0.16)  # the third report crosses the 0.1 cap


async def test_a_budget_stop_keeps_the_work_in_a_draft_pr_that_says_so(tmp_path: Path) -> None:
    runner = fake(writes({"notes.txt": "half done\n"}, costs=COSTS))
    async with await start(tmp_path, runner) as stack:
        number = await labeled(stack, yml(CAPPED, "writer"))
        [status] = await stack.status_comments(REPO, number)
        [pr] = await stack.pulls(REPO)
        assert pr["draft"] is True
        assert "💸 Stopped at budget: `writer`" in status, status
        assert f"its work so far is in draft {pr['html_url']}" in status
        said = (
            "`writer` stopped at its cost limit: it had cost $0.1200 (reported) against a cap "
            "of $0.1000, set by `agents.writer.max_cost_usd` (repo file .agents.yml:3:"
        )
        assert said in status
        assert "`/agent continue --max-cost=0.20`" in status
        assert "`/agent retry` starts another attempt" in status
        assert pr["body"].startswith("> 💸 **Stopped at budget.** " + said)
        assert "notes.txt" in await branch_files(stack, pr["head"]["ref"])
        row = await stack.runtime.services.store.get_run("r1")
        assert row is not None
        assert (row.status, row.cost_usd, row.cost_cap_usd) == ("stopped_at_budget", 0.12, 0.1)
        assert row.error.startswith(said)
        assert row.pr_number == pr["number"]
        [check] = await check_runs(stack, pr["head"]["sha"])
        assert check["conclusion"] == "action_required"  # stopped at budget: continue or not
        assert provenance(pr["body"])["runs"][0]["status"] == "stopped_at_budget"
        ended = (await run_events(stack, "r1"))[-1]
        assert (ended["kind"], ended["status"]) == ("ended", "stopped_at_budget")


async def test_an_agent_that_wrote_nothing_opens_nothing_and_says_so(tmp_path: Path) -> None:
    runner = fake(writes({}, costs=COSTS))
    async with await start(tmp_path, runner) as stack:
        number = await labeled(stack, yml(CAPPED, "writer"))
        [status] = await stack.status_comments(REPO, number)
        assert "💸 Stopped at budget" in status, status
        assert "It had written nothing, so nothing was pushed and no pull request was opened" in (
            status
        )
        assert await stack.pulls(REPO) == []
        assert "baton/" not in await heads(stack)
        ends = [e for e in await run_events(stack, "r1") if e["kind"] == "ended"]
        # The agent's end, then the run's (one of each).
        assert [(e.get("stage"), e["status"]) for e in ends] == [
            ("agent", "stopped_at_budget"),
            (None, "stopped_at_budget"),
        ]


async def test_a_timeout_keeps_the_work_too(tmp_path: Path) -> None:
    runner = fake(writes({"notes.txt": "slow\n"}, timed_out=True))
    agent = command_agent("writer", timeout="2m")
    async with await start(tmp_path, runner) as stack:
        number = await labeled(stack, yml(agent, "writer"))
        [status] = await stack.status_comments(REPO, number)
        [pr] = await stack.pulls(REPO)
        assert pr["draft"] is True
        assert "⏱️ Timed out: `writer`" in status, status
        assert "ran out of its 2m00s (`agents.writer.timeout` (repo file .agents.yml:3:" in status
        assert "`/agent continue --timeout=4m`" in status
        assert pr["body"].startswith("> ⏱️ **Timed out.**")


async def test_by_default_a_stop_is_the_end_even_with_a_fallback(tmp_path: Path) -> None:
    runner = fake(writes({"notes.txt": "half\n"}, costs=COSTS))  # no step for `other`
    agents = CAPPED + command_agent("other")
    async with await start(tmp_path, runner) as stack:
        number = await labeled(stack, yml(agents, "writer", fallback=["other"]))
        [status] = await stack.status_comments(REPO, number)
        assert "💸 Stopped at budget" in status, status
        assert [job.name for job in runner.jobs] == ["writer"]


async def test_with_handoff_the_next_agent_continues_from_the_kept_work(tmp_path: Path) -> None:
    saw: list[set[str]] = []
    runner = fake(
        writes({"notes.txt": "half\n"}, costs=COSTS),
        writes({"more.txt": "the rest\n"}, saw=saw),
    )
    agents = command_agent("writer", max_cost_usd="0.1", on_budget="handoff")
    agents += command_agent("other")
    async with await start(tmp_path, runner) as stack:
        number = await labeled(stack, yml(agents, "writer", fallback=["other"]))
        [status] = await stack.status_comments(REPO, number)
        assert "✅ Done: `other`" in status, status
        assert (
            "`writer` stopped at its cost limit after $0.1200; `other` takes over from its kept "
            "work on this branch (`agents.writer.on_budget: handoff`)."
        ) in status
        [pr] = await stack.pulls(REPO)
        assert pr["draft"] is False  # it left draft once the work was finished
        ref = pr["head"]["ref"]
        assert [c.split("|")[1] for c in await commits_on(stack, ref)] == ["writer", "other"]
        assert {"notes.txt", "more.txt"} <= await branch_files(stack, ref)
        runs = provenance(pr["body"])["runs"]
        assert [(r["agent"], r["status"]) for r in runs] == [
            ("writer", "stopped_at_budget"),
            ("other", "success"),
        ]
        assert not pr["body"].startswith(">")  # no longer stopped
        assert "notes.txt" in saw[0]  # the second agent started from the kept work
        events = [e["kind"] for e in await run_events(stack, "r1-2")]
        assert "pr_ready" in events


async def test_continue_resumes_the_same_agent_on_the_same_draft_pr(tmp_path: Path) -> None:
    runner = fake(
        writes({"notes.txt": "half\n"}, costs=COSTS, session="writer-session-1"),
        writes({"more.txt": "the rest\n"}, costs=(0.3,), session="writer-session-2"),
    )
    async with await start(tmp_path, runner) as stack:
        await labeled(stack, yml(CAPPED, "writer"))
        [stopped] = await stack.pulls(REPO)
        assert stopped["draft"] is True
        await stack.comment(OWNER, REPO, stopped["number"], "/agent continue --max-cost=0.5")
        [status] = await stack.wait_final(REPO, stopped["number"])
        assert "✅ Done: `writer`" in status, status
        # The adapter was told to resume the stopped session (the command's `resume:` args).
        assert runner.jobs[1].argv[-2:] == ("--resume", "writer-session-1")
        [pr] = await stack.pulls(REPO)
        assert pr["number"] == stopped["number"]
        assert pr["draft"] is False
        ref = pr["head"]["ref"]
        assert [c.split("|")[1] for c in await commits_on(stack, ref)] == ["writer", "writer"]
        assert {"notes.txt", "more.txt"} <= await branch_files(stack, ref)
        # Its job's id follows the jobs that recorded the draft PR's facts (the scoreboard's).
        [row] = [r for r in await stack.runtime.services.store.list_runs() if r.verb == "continue"]
        assert (row.status, row.cost_cap_usd) == ("success", 0.5)


async def test_continue_where_nothing_stopped_says_so(tmp_path: Path) -> None:
    runner = fake(writes({"notes.txt": "done\n"}))
    async with await start(tmp_path, runner) as stack:
        await labeled(stack, yml(CAPPED, "writer"))
        [pr] = await stack.pulls(REPO)
        await stack.comment(OWNER, REPO, pr["number"], "/agent continue")
        [status] = await stack.wait_final(REPO, pr["number"])
        assert "🚫 Not started" in status
        assert "the last run here (`r1`, `writer`) ended as success" in status
        assert len(runner.jobs) == 1


async def test_continue_is_still_bounded_by_every_locked_limit(tmp_path: Path) -> None:
    runner = fake(
        writes({"notes.txt": "half\n"}, costs=COSTS, session="s-1"),
        writes({"more.txt": "rest\n"}, costs=(0.2,)),
    )
    org = "version: 1\nenforce:\n  agents:\n    writer: {timeout: 10m}\n"
    async with await start(tmp_path, runner) as stack:
        await stack.create_repo(OWNER, ".github", {"agents.yml": org})
        await labeled(stack, yml(CAPPED, "writer", extra="budget: {per_run_usd: 0.3}\n"))
        [pr] = await stack.pulls(REPO)
        await stack.comment(OWNER, REPO, pr["number"], "/agent continue --timeout=1h")
        [refused] = await stack.wait_final(REPO, pr["number"])
        assert "agents.writer.timeout is locked by the org" in refused, refused
        await stack.comment(OWNER, REPO, pr["number"], "/agent continue --max-cost=5")
        statuses = await stack.wait_final(REPO, pr["number"], count=2)
        done = statuses[1]
        assert "✅ Done: `writer`" in done, statuses
        assert "`--max-cost=5` is above `budget.per_run_usd` (repo file .agents.yml:" in done
        rows = await stack.runtime.services.store.runs_for_pull(REPO, pr["number"])
        [row] = [r for r in rows if r.verb == "continue" and r.status == "success"]
        assert row.cost_cap_usd == 0.3


async def test_a_stopped_run_retried_after_a_github_error_is_delivered_as_stopped(
    tmp_path: Path,
) -> None:
    runner = fake(writes({"notes.txt": "half\n"}, costs=COSTS))  # one step: never run again
    settings = {"job_max_attempts": "2", "job_retry_base_s": "0"}
    async with await start(tmp_path, runner, settings=settings) as stack:
        stack.hub.add_fault("POST", r"/repos/octocat/calc/pulls$", status=502)
        number = await labeled(stack, yml(CAPPED, "writer"))
        [status] = await stack.status_comments(REPO, number)
        assert "💸 Stopped at budget" in status, status
        [pr] = await stack.pulls(REPO)
        assert pr["draft"] is True
        assert pr["body"].startswith("> 💸 **Stopped at budget.**")
        row = await stack.runtime.services.store.get_run("r1")
        assert row is not None
        assert row.status == "stopped_at_budget"
        kinds = [e["kind"] for e in await run_events(stack, "r1")]
        assert kinds.count("pushed") == 1
        assert len(runner.jobs) == 1


async def test_continue_that_finds_nothing_more_to_do_finishes_the_draft(tmp_path: Path) -> None:
    runner = fake(
        writes({"notes.txt": "all of it\n"}, costs=COSTS, session="s-1"),
        writes({}, costs=(0.02,)),  # resumed, it sees the work is done
    )
    async with await start(tmp_path, runner) as stack:
        await labeled(stack, yml(CAPPED, "writer"))
        [stopped] = await stack.pulls(REPO)
        await stack.comment(OWNER, REPO, stopped["number"], "/agent continue")
        [status] = await stack.wait_final(REPO, stopped["number"])
        assert "✅ Done: `writer`" in status, status
        assert "The agent found nothing more to change" in status, status
        [pr] = await stack.pulls(REPO)
        assert pr["draft"] is False
        assert pr["head"]["sha"] == stopped["head"]["sha"]  # nothing pushed
        assert not pr["body"].startswith(">")
