"""Merging built-in, org, repo and flag layers: precedence, locks, routes, provenance, checks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from config.defaults import KNOWN_ADAPTERS
from config.loader import ConfigError, load_org_file, load_repo_file
from config.merge import Effective, Source, effective_config, repo_matches

FIXTURES = Path(__file__).parent / "fixtures"
BUILTIN_AGENTS = ["scripted", "claude-code", "codex", "gemini", "aider", "opencode", "qwen"]


def merge(
    repo: str | None = None,
    org: str | None = None,
    *,
    repo_name: str = "acme/widgets",
    flags: Mapping[str, object] | None = None,
) -> Effective:
    return effective_config(
        repo=None if repo is None else load_repo_file(repo),
        org=None if org is None else load_org_file(org),
        repo_name=repo_name,
        known_adapters=KNOWN_ADAPTERS,
        flags=flags,
    )


def merge_errors(repo: str | None = None, org: str | None = None, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        merge(repo, org, **kwargs)  # type: ignore[arg-type]
    return [str(issue) for issue in caught.value.issues]


def test_builtin_layer_alone() -> None:
    eff = merge()
    assert list(eff.config.agents) == BUILTIN_AGENTS
    assert eff.config.agents["codex"].model == "gpt-5-codex"
    assert eff.config.agents["gemini"].model == "gemini-2.5-pro"
    assert eff.config.agents["aider"].adapter == "aider"
    assert [(r.when.label, r.agent) for r in eff.config.routes] == [("agent:fix", "claude-code")]
    assert eff.config.triggers.min_permission == "write"
    assert eff.config.policy.protected_paths == [".github/workflows/**"]
    assert {source.layer for source in eff.sources.values()} == {"built-in"}
    assert eff.warnings == ()
    assert eff.locked == frozenset()


def test_the_builtin_route_answers_the_fix_label_under_the_servers_prefix() -> None:
    eff = effective_config(
        repo=None, org=None, repo_name="widgets", known_adapters=KNOWN_ADAPTERS, label_prefix="bt/"
    )
    assert [(r.when.label, r.agent) for r in eff.config.routes] == [("bt/fix", "claude-code")]


def test_every_layer_overrides_the_one_below_and_is_the_source() -> None:
    org = (
        "defaults:\n"
        "  budget: {per_run_usd: 1, monthly_usd: 10, per_requester_monthly_usd: 5}\n"
        "repos:\n"
        "  widgets:\n"
        "    budget: {per_run_usd: 2, monthly_usd: 20}\n"
    )
    repo = "budget:\n  per_run_usd: 3\n"
    eff = merge(repo, org, flags={"budget.per_run_usd": 4})
    budget = eff.config.budget
    assert (budget.per_run_usd, budget.monthly_usd, budget.per_requester_monthly_usd) == (4, 20, 5)
    assert eff.sources["budget.per_run_usd"] == Source("command flags", 0, 0, "flag")
    assert eff.sources["budget.monthly_usd"] == Source(
        "agents.yml", 5, 30, "org repos[pattern]", pattern="widgets"
    )
    assert eff.sources["budget.per_requester_monthly_usd"] == Source(
        "agents.yml", 2, 45, "org defaults"
    )
    assert eff.sources["policy.draft"].layer == "built-in"
    without_flag = merge(repo, org)
    assert without_flag.config.budget.per_run_usd == 3
    assert without_flag.sources["budget.per_run_usd"] == Source(".agents.yml", 2, 3, "repo")


def test_org_repos_patterns_apply_in_file_order() -> None:
    org = (
        "repos:\n"
        "  '*': {policy: {max_changed_files: 10, draft: true}}\n"
        "  'docs-*': {policy: {max_changed_files: 20}}\n"
        "  'api-*': {policy: {max_changed_files: 30}}\n"
    )
    docs = merge(org=org, repo_name="acme/docs-site")
    assert docs.config.policy.max_changed_files == 20
    assert docs.config.policy.draft is True  # from '*', untouched by 'docs-*'
    assert docs.sources["policy.max_changed_files"].pattern == "docs-*"
    other = merge(org=org, repo_name="acme/widgets")
    assert other.config.policy.max_changed_files == 10


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("docs-*", "acme/docs-site", True),
        ("docs-*", "docs-site", True),
        ("DOCS-*", "acme/Docs-Site", True),
        ("docs-*", "acme/api", False),
        ("acme/*", "acme/api", True),
        ("other/*", "acme/api", False),
        ("api-?", "acme/api-1", True),
        ("[ab]pi", "acme/api", True),
    ],
)
def test_repo_patterns(pattern: str, name: str, expected: bool) -> None:
    assert repo_matches(pattern, name) is expected


def test_agents_merge_by_name_and_deep_merge() -> None:
    org = (
        "defaults:\n"
        "  agents:\n"
        "    claude: {adapter: claude-code, model: claude-opus-4-1, max_cost_usd: 9, env: {A: x}}\n"
    )
    repo = "agents:\n  claude: {model: claude-sonnet-4-5, env: {B: y}}\n  mine: {adapter: aider}\n"
    eff = merge(repo, org)
    claude = eff.config.agents["claude"]
    assert (claude.adapter, claude.model, claude.max_cost_usd) == (
        "claude-code",
        "claude-sonnet-4-5",
        9,
    )
    assert claude.env == {"A": "x", "B": "y"}
    assert eff.sources["agents.claude.adapter"].layer == "org defaults"
    assert eff.sources["agents.claude.model"] == Source(".agents.yml", 2, 12, "repo")
    assert eff.sources["agents.claude.env.A"].file == "agents.yml"
    assert eff.sources["agents.claude.timeout"].layer == "built-in"  # schema default
    assert list(eff.config.agents) == [*BUILTIN_AGENTS, "claude", "mine"]


def test_a_repo_can_retune_a_builtin_agent() -> None:
    eff = merge("agents:\n  codex: {model: gpt-5}\n")
    assert eff.config.agents["codex"].adapter == "codex"
    assert eff.config.agents["codex"].model == "gpt-5"


def test_lists_replace_rather_than_append() -> None:
    org = "defaults:\n  policy: {protected_paths: [secrets/**]}\n"
    eff = merge("policy: {protected_paths: [infra/**]}\n", org)
    assert eff.config.policy.protected_paths == ["infra/**"]
    assert eff.sources["policy.protected_paths"].file == ".agents.yml"


def test_routes_concatenate_repo_first_then_org_then_builtin() -> None:
    org = (
        "defaults:\n"
        "  routes:\n"
        "    - {when: {label: 'agent:d'}, agent: codex}\n"
        "repos:\n"
        "  '*':\n"
        "    routes: [{when: {label: 'agent:all'}, agent: codex}]\n"
        "  'widg*':\n"
        "    routes: [{when: {label: 'agent:w'}, agent: codex}]\n"
    )
    repo = "routes:\n  - when: {label: 'agent:r1'}\n    agent: aider\n  - agent: gemini\n"
    eff = merge(repo, org)
    assert [(r.when.label, r.agent) for r in eff.config.routes] == [
        ("agent:r1", "aider"),
        (None, "gemini"),
        ("agent:w", "codex"),
        ("agent:all", "codex"),
        ("agent:d", "codex"),
        ("agent:fix", "claude-code"),
    ]
    assert eff.sources["routes[0]"] == Source(".agents.yml", 2, 5, "repo")
    assert eff.sources["routes[1]"] == Source(".agents.yml", 4, 5, "repo")
    assert eff.sources["routes[2]"] == Source(
        "agents.yml", 8, 14, "org repos[pattern]", pattern="widg*"
    )
    assert eff.sources["routes[4]"] == Source("agents.yml", 3, 7, "org defaults")
    assert eff.sources["routes[5]"].layer == "built-in"
    assert "routes" not in eff.sources


LOCKING_ORG = (
    "defaults:\n"
    "  budget: {monthly_usd: 100}\n"
    "enforce:\n"
    "  budget:\n"
    "    monthly_usd: 500\n"
    "  triggers: {min_permission: maintain}\n"
)


def test_enforce_beats_every_layer_and_repo_attempts_are_warnings() -> None:
    repo = "budget:\n  monthly_usd: 900\n  per_run_usd: 2\ntriggers:\n  min_permission: write\n"
    eff = merge(repo, LOCKING_ORG)
    assert eff.config.budget.monthly_usd == 500
    assert eff.config.budget.per_run_usd == 2  # unlocked keys still apply
    assert eff.config.triggers.min_permission == "maintain"
    assert [str(w) for w in eff.warnings] == [
        (
            ".agents.yml:2:3: budget.monthly_usd is locked by the org (agents.yml:5:5); "
            "the org's value 500 applies"
        ),
        (
            ".agents.yml:5:3: triggers.min_permission is locked by the org (agents.yml:6:14); "
            "the org's value maintain applies"
        ),
    ]
    assert eff.sources["budget.monthly_usd"] == Source("agents.yml", 5, 5, "enforce", locked=True)
    assert eff.locked == frozenset({"budget.monthly_usd", "triggers.min_permission"})


def test_repeating_the_locked_value_is_not_a_warning() -> None:
    eff = merge("budget: {monthly_usd: 500}\n", LOCKING_ORG)
    assert eff.warnings == ()
    assert eff.sources["budget.monthly_usd"].locked


def test_flag_attempt_on_a_locked_key_is_a_warning_and_not_applied() -> None:
    eff = merge(org=LOCKING_ORG, flags={"budget.monthly_usd": 1, "budget.per_run_usd": 1})
    assert eff.config.budget.monthly_usd == 500
    assert eff.config.budget.per_run_usd == 1
    assert [str(w) for w in eff.warnings] == [
        (
            "command flags: budget.monthly_usd is locked by the org (agents.yml:5:5); "
            "the org's value 500 applies"
        )
    ]


def test_a_flag_may_lower_a_locked_limit_but_not_raise_it() -> None:
    org = "enforce:\n  agents:\n    codex: {max_cost_usd: 2, timeout: 10m}\n"
    lower = merge(org=org, flags={"agents.codex.max_cost_usd": 0.5, "agents.codex.timeout": 120})
    assert lower.config.agents["codex"].max_cost_usd == 0.5
    assert lower.config.agents["codex"].timeout == 120
    assert lower.warnings == ()
    higher = merge(org=org, flags={"agents.codex.max_cost_usd": 5, "agents.codex.timeout": "1h"})
    assert higher.config.agents["codex"].max_cost_usd == 2
    assert higher.config.agents["codex"].timeout == 600
    assert [str(w).split(" is locked")[0] for w in higher.warnings] == [
        "command flags: agents.codex.max_cost_usd", "command flags: agents.codex.timeout",
    ]  # fmt: skip
    # A repo file is not a flag: it may not change a locked limit either way.
    repo = merge("agents:\n  codex: {max_cost_usd: 1}\n", org)
    assert repo.config.agents["codex"].max_cost_usd == 2


def test_enforced_routes_replace_all_and_repo_routes_are_reported() -> None:
    org = "enforce:\n  routes:\n    - agent: codex\n"
    eff = merge("routes:\n  - agent: aider\n", org)
    assert [r.agent for r in eff.config.routes] == ["codex"]
    assert eff.sources["routes[0]"] == Source("agents.yml", 3, 7, "enforce", locked=True)
    assert [str(w) for w in eff.warnings] == [
        ".agents.yml:1:1: routes are locked by the org (agents.yml:2:3); the org's routes apply"
    ]


def test_locked_agent_field_leaves_the_rest_of_the_agent_open() -> None:
    org = "enforce:\n  agents:\n    claude-code: {model: claude-sonnet-4-5}\n"
    eff = merge("agents:\n  claude-code: {model: claude-opus-4-1, max_cost_usd: 3}\n", org)
    agent = eff.config.agents["claude-code"]
    assert (agent.model, agent.max_cost_usd) == ("claude-sonnet-4-5", 3)
    assert eff.locked == frozenset({"agents.claude-code.model"})
    assert len(eff.warnings) == 1


def test_route_to_an_unknown_agent_is_an_error_at_its_position() -> None:
    repo = "agents:\n  cheap: {adapter: aider}\nroutes:\n  - when: {label: x}\n    agent: chaep\n"
    assert merge_errors(repo) == [
        (
            ".agents.yml:5:12: route 1 uses unknown agent 'chaep' (known: aider, cheap, "
            "claude-code, codex, gemini, opencode, qwen, scripted); did you mean 'cheap'?"
        )
    ]


def test_unknown_fallback_agent_is_an_error() -> None:
    repo = "routes:\n  - agent: codex\n    fallback: [codex, nobody]\n"
    assert merge_errors(repo) == [
        (
            ".agents.yml:3:23: route 1 falls back to unknown agent 'nobody' "
            "(known: aider, claude-code, codex, gemini, opencode, qwen, scripted)"
        )
    ]


def test_org_route_to_an_agent_only_one_repo_defines_is_an_error_in_the_org_file() -> None:
    org = "defaults:\n  routes: [{agent: special}]\n"
    assert merge_errors(org=org)[0].startswith(
        "agents.yml:2:20: route 1 uses unknown agent 'special'"
    )
    assert merge("agents: {special: {adapter: aider}}\n", org).config.routes[0].agent == "special"


def test_unknown_adapter_is_an_error_at_the_adapter() -> None:
    repo = "agents:\n  mine:\n    adapter: claude\n"
    assert merge_errors(repo) == [
        (
            ".agents.yml:3:14: agent 'mine' uses unknown adapter 'claude' "
            "(known: aider, claude-code, codex, command, gemini, opencode, qwen, scripted); "
            "did you mean 'claude-code'?"
        )
    ]


def test_agent_without_adapter_anywhere_is_an_error() -> None:
    assert merge_errors("agents:\n  mine: {model: x}\n") == [
        ".agents.yml:2:3: agents.mine is missing the required key 'adapter'"
    ]


def test_flags_set_agent_fields_even_with_dots_in_the_name() -> None:
    repo = "agents:\n  gpt-4.1: {adapter: codex, model: gpt-4.1}\n"
    eff = merge(repo, flags={"agents.gpt-4.1.model": "gpt-4.1-mini", "agents.codex.timeout": "5m"})
    assert eff.config.agents["gpt-4.1"].model == "gpt-4.1-mini"
    assert eff.config.agents["codex"].timeout == 300
    assert eff.sources["agents.gpt-4.1.model"].layer == "flag"


def test_unknown_flag_keys_are_errors() -> None:
    found = merge_errors(flags={"budget.per_run": 1, "routes": [], "agents.x": 1})
    assert found == [
        "command flags: 'budget.per_run' is not a setting a flag can set",
        "command flags: 'routes' is not a setting a flag can set",
        "command flags: 'agents.x' is not a setting a flag can set",
    ]


def test_flag_with_a_bad_value_is_reported_against_the_flags() -> None:
    assert merge_errors(flags={"budget.per_run_usd": "lots"}) == [
        "command flags: budget.per_run_usd: expected a number, got 'lots'"
    ]


def test_design_examples_merge_cleanly() -> None:
    repo = load_repo_file((FIXTURES / "design_repo.yml").read_text())
    org = load_org_file((FIXTURES / "design_org.yml").read_text())
    eff = effective_config(
        repo=repo, org=org, repo_name="acme/docs-site", known_adapters=KNOWN_ADAPTERS
    )
    config = eff.config
    assert config.agents["claude"].timeout == 1800
    assert config.agents["claude"].max_cost_usd == 4  # the repo's value beats the org default
    assert config.agents["cheap"].model == "deepseek/deepseek-chat"  # repo beats docs-*
    assert config.agents["reviewer"].adapter == "codex"
    assert [r.agent for r in config.routes] == ["cheap", "claude", "reviewer", "claude-code"]
    assert config.budget.monthly_usd == 500
    assert config.budget.org_monthly_usd == 2000
    assert config.policy.draft is True
    assert [str(w) for w in eff.warnings] == [
        (
            ".agents.yml:14:28: budget.monthly_usd is locked by the org (agents.yml:16:21); "
            "the org's value 500 applies"
        )
    ]


def test_org_prices_reach_the_effective_config_of_every_repo() -> None:
    org = "defaults:\n  prices:\n    gpt-5-codex: {input: 1, output: 8}\n"
    eff = merge("version: 1\n", org)
    assert eff.config.prices["gpt-5-codex"].output == 8
    assert eff.sources["prices.gpt-5-codex.output"].layer == "org defaults"


def test_a_repository_cannot_widen_allowed_agents_the_org_locks() -> None:
    org = load_org_file(
        "version: 1\nenforce:\n  allowed_agents: [demo]\n", file="acme/.github:agents.yml"
    )
    repo = load_repo_file("version: 1\nallowed_agents: [demo, claude-code]\n")
    effective = effective_config(repo=repo, org=org, repo_name="app", known_adapters=KNOWN_ADAPTERS)
    assert effective.config.allowed_agents == ["demo"]
    assert "allowed_agents" in effective.locked
    [warning] = effective.warnings
    assert "allowed_agents is locked by the org" in warning.message


def test_a_per_run_cap_applies_by_default_and_only_the_org_turns_it_off() -> None:
    plain = effective_config(repo=None, org=None, repo_name="app", known_adapters=KNOWN_ADAPTERS)
    assert plain.config.budget.per_run_usd == 10.0
    assert plain.sources["budget.per_run_usd"].layer == "built-in"
    org = load_org_file(
        "version: 1\ndefaults:\n  budget: {per_run_usd: null}\n", file="acme/.github:agents.yml"
    )
    off = effective_config(repo=None, org=org, repo_name="app", known_adapters=KNOWN_ADAPTERS)
    assert off.config.budget.per_run_usd is None
    with pytest.raises(ConfigError) as caught:
        load_repo_file("version: 1\nbudget: {per_run_usd: null}\n")
    assert "turns the per-run cap off, which is the org's decision" in str(caught.value.issues[0])
