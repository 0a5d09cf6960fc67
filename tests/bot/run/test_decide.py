"""The run's own decisions, as values in and values out."""

from __future__ import annotations

from adapters.base import AgentResult, Limits, RunStatus
from bot.commands import parse
from bot.ledger import RunRecord
from bot.plan import RunPlan
from bot.run import decide
from bot.trigger import Trigger
from config.schema import AgentsConfig, AgentSpec, Policy

CONFIG = AgentsConfig.model_validate(
    {
        "agents": {"claude": {"adapter": "scripted"}, "codex": {"adapter": "scripted"}},
        "routes": [{"when": {"label": "agent:fix"}, "agent": "claude", "fallback": ["codex"]}],
    }
)


def trigger(**fields: object) -> Trigger:
    base: dict[str, object] = {
        "installation_id": 1,
        "repo": "acme/app",
        "owner": "acme",
        "name": "app",
        "number": 3,
        "title": "Fix it",
        "body": "in `src/a.py`",
        "requester": "octocat",
        "kind": "command",
        "default_branch": "main",
        "clone_url": "http://x/acme/app.git",
        "delivery_id": "d",
        "verb": "fix",
    }
    return Trigger.model_validate({**base, **fields})


def row(run_id: str, **fields: object) -> RunRecord:
    base: dict[str, object] = {
        "id": run_id,
        "job_id": 1,
        "repo": "acme/app",
        "number": 3,
        "trigger": "label",
        "verb": "fix",
        "requester": "octocat",
        "status": RunStatus.FAILED,
        "created_at": 1.0,
        "agent": "claude",
    }
    return RunRecord(**{**base, **fields})  # type: ignore[arg-type]


def test_a_command_routes_like_the_fix_label_under_the_servers_prefix() -> None:
    assert decide.routed(trigger(), "bt/").label == "bt/fix"
    labelled = trigger(kind="label", label="agent:codex")
    assert decide.routed(labelled, "agent:") is labelled


def test_the_paths_a_task_names_are_read_from_its_text() -> None:
    assert decide.task_paths(trigger()) == ["src/a.py"]


def test_a_flag_reaches_the_routed_agent_and_its_fallbacks_but_the_model_only_the_first() -> None:
    command = parse("fix --max-cost=2 --model=big")
    flags = decide.flags_for(command, trigger(), CONFIG, label_prefix="agent:")
    assert flags["agents.claude.model"] == "big"
    assert flags["agents.claude.max_cost_usd"] == 2.0
    assert flags["agents.codex.max_cost_usd"] == 2.0
    assert "agents.codex.model" not in flags


def test_a_command_naming_an_unknown_agent_is_refused_with_the_known_ones() -> None:
    refusal = decide.unknown_agent(parse("gpt9 fix"), CONFIG, command_word="/agent")
    assert refusal is not None
    assert "`gpt9` is not an agent this repository knows" in refusal.reason
    assert "claude" in refusal.reason
    assert decide.unknown_agent(parse("codex fix"), CONFIG, command_word="/agent") is None


def test_a_max_cost_above_the_budget_says_which_limit_applies() -> None:
    plan = RunPlan(
        agent="claude",
        spec=AgentSpec(adapter="scripted"),
        limits=Limits(max_cost_usd=1.0),
        fallback=(),
        policy=Policy(),
        cost_cap_by="`budget.per_run_usd`",
    )
    note = decide.capped_flag_note(parse("fix --max-cost=5"), plan)
    assert (
        note
        == "`--max-cost=5` is above `budget.per_run_usd`, so this run stops at $1.0000 instead."
    )
    assert decide.capped_flag_note(parse("fix --max-cost=0.5"), plan) == ""


def test_an_agents_failure_says_how_it_ended() -> None:
    timed = AgentResult(status=RunStatus.TIMED_OUT, error="no result within 60s")
    assert decide.agent_failure_text("claude", timed) == (
        "Agent `claude` ran out of time: no result within 60s"
    )


def test_the_next_agent_hears_what_the_failed_one_changed() -> None:
    handoff = decide.with_failed(None, row("r1"), "+x = 1\n")
    assert handoff.earlier_runs[0].id == "r1"
    assert "```diff\n+x = 1\n" in handoff.notes[0]
    assert decide.with_failed(None, row("r1")).notes == ()


def test_the_pr_lists_finished_runs_of_this_job_and_of_the_pr_only() -> None:
    rows = [
        row("r1", created_at=3.0),
        row("r2", job_id=2, created_at=2.0, status=RunStatus.RUNNING),
        row("r0", job_id=0, created_at=1.0, status=RunStatus.SUCCESS),
        row("r9", job_id=9, created_at=4.0),
    ]
    chosen = decide.earlier_runs(rows, current="r2", job_id=1, on_pull={"r0"})
    assert [r.id for r in chosen] == ["r0", "r1"]
