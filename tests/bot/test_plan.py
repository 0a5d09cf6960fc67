"""The decision core: who may trigger, which agent runs with what limits, what may be pushed."""

from __future__ import annotations

import pytest

from bot.plan import (
    Refusal,
    RunPlan,
    Spend,
    authorize,
    glob_match,
    paths_in_text,
    plan_run,
    policy_violation,
)
from bot.trigger import Trigger
from config.defaults import KNOWN_ADAPTERS
from config.merge import effective_config
from config.schema import AgentsConfig, Policy


def trigger(**kw: object) -> Trigger:
    base: dict[str, object] = {
        "kind": "label", "delivery_id": "d", "installation_id": 1, "repo": "acme/app",
        "owner": "acme", "name": "app", "clone_url": "http://x/acme/app.git",
        "default_branch": "main", "number": 7, "requester": "alice", "label": "agent:fix",
    }  # fmt: skip
    base.update(kw)
    return Trigger.model_validate(base)


CONFIG = AgentsConfig.model_validate(
    {
        "agents": {
            "claude": {
                "adapter": "claude-code",
                "model": "claude-sonnet-4-5",
                "max_cost_usd": 4,
                "timeout": "30m",
            },
            "codex": {"adapter": "codex", "model": "gpt-5-codex"},
            "cheap": {"adapter": "aider", "model": "deepseek/deepseek-chat"},
        },
        "routes": [
            {"when": {"label": "agent:fix", "paths": ["docs/**"]}, "agent": "cheap"},
            {"when": {"label": "agent:fix"}, "agent": "claude", "fallback": ["codex"]},
        ],
        "budget": {"per_run_usd": 5, "monthly_usd": 200, "per_requester_monthly_usd": 50},
    }
)


def with_routes(*routes: dict[str, object]) -> AgentsConfig:
    """CONFIG with these routes instead of its own."""
    return AgentsConfig.model_validate({**CONFIG.model_dump(), "routes": list(routes)})


@pytest.mark.parametrize(
    ("pattern", "path", "match"),
    [
        ("docs/**", "docs/a/b.md", True),
        ("docs/**", "src/docs/a.md", False),
        (".github/workflows/**", ".github/workflows/ci.yml", True),
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),
        ("**/*.md", "docs/README.md", True),
        ("**/*.md", "README.md", True),
        ("src/?.py", "src/a.py", True),
    ],
)
def test_glob(pattern: str, path: str, match: bool) -> None:
    assert glob_match(pattern, path) is match


def test_write_permission_may_trigger() -> None:
    assert authorize(trigger=trigger(), permission="write", config=CONFIG,
                     server_allow_bots=()) is None  # fmt: skip
    assert authorize(trigger=trigger(), permission="admin", config=CONFIG,
                     server_allow_bots=()) is None  # fmt: skip


@pytest.mark.parametrize("permission", ["read", "triage", "none"])
def test_less_than_write_is_refused_politely(permission: str) -> None:
    refusal = authorize(trigger=trigger(), permission=permission, config=CONFIG,
                        server_allow_bots=())  # fmt: skip
    assert isinstance(refusal, Refusal)
    assert "@alice" in refusal.reason
    assert "`write`" in refusal.reason


def test_bots_need_the_allow_list() -> None:
    bot = trigger(requester="dependabot[bot]", requester_is_bot=True)
    assert isinstance(authorize(trigger=bot, permission="write", config=CONFIG,
                                server_allow_bots=()), Refusal)  # fmt: skip
    assert authorize(trigger=bot, permission="none", config=CONFIG,
                     server_allow_bots=("dependabot[bot]",)) is None  # fmt: skip


def test_first_matching_route_wins_and_carries_fallback() -> None:
    plan = plan_run(trigger=trigger(), config=CONFIG, paths=["src/x.py"], spend=Spend())
    assert isinstance(plan, RunPlan)
    assert plan.agent == "claude"
    assert plan.fallback == ("codex",)
    assert plan.limits.timeout_s == 1800
    assert plan.limits.max_cost_usd == 4  # the agent's cap is below the per-run budget


def test_docs_only_issue_goes_to_the_cheap_agent() -> None:
    paths = paths_in_text("Typo in `docs/guide/intro.md` and `docs/index.md`")
    assert paths == ["docs/guide/intro.md", "docs/index.md"]
    plan = plan_run(trigger=trigger(), config=CONFIG, paths=paths, spend=Spend())
    assert isinstance(plan, RunPlan)
    assert plan.agent == "cheap"


def test_agent_named_by_label_suffix() -> None:
    plan = plan_run(trigger=trigger(label="agent:codex", agent="codex"), config=CONFIG,
                    paths=[], spend=Spend())  # fmt: skip
    assert isinstance(plan, RunPlan)
    assert plan.agent == "codex"


def test_a_label_route_runs_for_a_label_that_names_no_agent() -> None:
    config = with_routes(
        *CONFIG.model_dump()["routes"], {"when": {"label": "agent:docs"}, "agent": "cheap"}
    )
    plan = plan_run(
        trigger=trigger(label="agent:docs", agent="docs"), config=config, paths=[], spend=Spend()
    )
    assert isinstance(plan, RunPlan)
    assert plan.agent == "cheap"


def test_a_label_route_comes_before_the_agent_the_label_names() -> None:
    config = with_routes(
        {"when": {"label": "agent:codex"}, "agent": "claude", "fallback": ["codex"]}
    )
    plan = plan_run(
        trigger=trigger(label="agent:codex", agent="codex"), config=config, paths=[], spend=Spend()
    )
    assert isinstance(plan, RunPlan)
    assert (plan.agent, plan.fallback) == ("claude", ("codex",))


def test_routes_on_other_conditions_do_not_capture_a_label_naming_an_agent() -> None:
    config = with_routes({"when": {"paths": ["docs/**"]}, "agent": "cheap"})
    plan = plan_run(
        trigger=trigger(label="agent:codex", agent="codex"),
        config=config,
        paths=["docs/a.md"],
        spend=Spend(),
    )
    assert isinstance(plan, RunPlan)
    assert plan.agent == "codex"


def test_a_label_naming_neither_route_nor_agent_is_refused_with_the_labels_there_are() -> None:
    refusal = plan_run(
        trigger=trigger(label="agent:nope", agent="nope"), config=CONFIG, paths=[], spend=Spend()
    )
    assert isinstance(refusal, Refusal)
    assert "`agent:nope` names neither a route nor an agent" in refusal.reason
    assert "Route labels: `agent:fix`." in refusal.reason
    assert "Agent labels: `agent:cheap`, `agent:claude`, `agent:codex`." in refusal.reason


def test_the_refusal_lists_labels_under_the_servers_prefix() -> None:
    config = with_routes({"when": {"label": "baton/fix"}, "agent": "claude"})
    refusal = plan_run(
        trigger=trigger(label="baton/nope", agent="nope"), config=config, paths=[], spend=Spend()
    )
    assert isinstance(refusal, Refusal)
    assert "Route labels: `baton/fix`." in refusal.reason
    assert "`baton/cheap`" in refusal.reason


def test_a_command_naming_an_agent_runs_it_whatever_the_routes_say() -> None:
    command = trigger(kind="command", label="agent:fix", agent="codex")
    plan = plan_run(trigger=command, config=CONFIG, paths=["docs/a.md"], spend=Spend())
    assert isinstance(plan, RunPlan)
    assert (plan.agent, plan.fallback) == ("codex", ())


def test_a_command_naming_an_unknown_agent_is_refused_with_the_agents() -> None:
    command = trigger(kind="command", label="agent:fix", agent="nope")
    refusal = plan_run(trigger=command, config=CONFIG, paths=[], spend=Spend())
    assert isinstance(refusal, Refusal)
    assert "cheap, claude, codex" in refusal.reason


def test_a_repo_without_config_runs_the_fix_label_under_another_prefix() -> None:
    builtin = effective_config(
        repo=None, org=None, repo_name="app", known_adapters=KNOWN_ADAPTERS, label_prefix="bt/"
    ).config
    plan = plan_run(trigger=trigger(label="bt/fix"), config=builtin, paths=[], spend=Spend())
    assert isinstance(plan, RunPlan)
    assert plan.agent == "claude-code"


def test_no_route_says_how_to_add_one() -> None:
    refusal = plan_run(trigger=trigger(label="agent:review"), config=AgentsConfig(), paths=[],
                       spend=Spend())  # fmt: skip
    assert isinstance(refusal, Refusal)
    assert 'label: "agent:review"' in refusal.reason


def test_budget_remaining_caps_the_run() -> None:
    plan = plan_run(trigger=trigger(), config=CONFIG, paths=[],
                    spend=Spend(repo_month=198.5, requester_month=10))  # fmt: skip
    assert isinstance(plan, RunPlan)
    assert plan.limits.max_cost_usd == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("spend", "who"),
    [(Spend(repo_month=200), "repository"), (Spend(requester_month=50), "@alice")],
)
def test_spent_budget_refuses(spend: Spend, who: str) -> None:
    refusal = plan_run(trigger=trigger(), config=CONFIG, paths=[], spend=spend)
    assert isinstance(refusal, Refusal)
    assert who in refusal.reason


def test_policy() -> None:
    policy = Policy(protected_paths=[".github/workflows/**"], max_changed_files=2)
    assert policy_violation(["src/a.py"], policy) is None
    assert "nothing to push" in (policy_violation([], policy) or "")
    assert "`.github/workflows/ci.yml`" in (
        policy_violation(["src/a.py", ".github/workflows/ci.yml"], policy) or ""
    )
    assert "3 files" in (policy_violation(["a", "b", "c"], policy) or "")


def test_negotiated_prices_reach_the_adapter() -> None:
    from adapters.base import Usage  # noqa: PLC0415
    from adapters.registry import build_adapter  # noqa: PLC0415

    config = AgentsConfig.model_validate(
        {**CONFIG.model_dump(), "prices": {"gpt-5-codex": {"input": 1.0, "output": 8.0}}}
    )
    plan = plan_run(trigger=trigger(label="agent:codex", agent="codex"), config=config,
                    paths=[], spend=Spend())  # fmt: skip
    assert isinstance(plan, RunPlan)
    assert plan.prices == {"gpt-5-codex": {"input": 1.0, "output": 8.0}}
    adapter = build_adapter(agent="codex", spec=plan.spec, server_env={}, prices=plan.prices)
    table = adapter._prices  # type: ignore[attr-defined]
    priced = table.price(Usage(model="gpt-5-codex", input_tokens=1_000_000, output_tokens=500_000))
    assert priced is not None
    assert (priced.cost_usd, priced.date) == (5.0, "override")


def test_a_change_of_more_lines_than_the_policy_allows_is_not_pushed() -> None:
    policy = Policy(max_changed_lines=10)
    assert policy_violation(["a.py"], policy, lines=10) is None
    reason = policy_violation(["a.py"], policy, lines=11) or ""
    assert "11 lines, more than `policy.max_changed_lines` (10)" in reason
    assert policy_violation(["a.py"], Policy(), lines=10**6) is None  # no cap by default


def test_an_agent_outside_allowed_agents_is_refused_with_the_allowed_ones() -> None:
    only_claude = CONFIG.model_copy(update={"allowed_agents": ["claude", "codex"]})
    plan = plan_run(trigger=trigger(), config=only_claude, paths=[], spend=Spend())
    assert isinstance(plan, RunPlan)  # claude, falling back to codex: both allowed
    named = trigger(label="agent:cheap", agent="cheap")
    refusal = plan_run(trigger=named, config=only_claude, paths=[], spend=Spend())
    assert isinstance(refusal, Refusal)
    assert "`cheap` is not among the agents this repository may use" in refusal.reason
    assert "`claude`, `codex`" in refusal.reason
    no_fallback = CONFIG.model_copy(update={"allowed_agents": ["claude"]})
    refusal = plan_run(trigger=trigger(), config=no_fallback, paths=[], spend=Spend())
    assert isinstance(refusal, Refusal)
    assert "`codex` is not among" in refusal.reason  # the route's fallback is named too
