"""The YAML loader: data, positions, and every kind of error with its exact file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import (
    MAX_BYTES,
    ConfigError,
    ConfigIssue,
    Located,
    load_org_file,
    load_repo_file,
)

FIXTURES = Path(__file__).parent / "fixtures"


def errors(text: str, *, org: bool = False, file: str = ".agents.yml") -> list[str]:
    loader = load_org_file if org else load_repo_file
    with pytest.raises(ConfigError) as caught:
        loader(text, file=file)
    return [str(issue) for issue in caught.value.issues]


def test_issue_string_is_file_line_col_message() -> None:
    assert str(ConfigIssue(".agents.yml", 3, 5, "boom")) == ".agents.yml:3:5: boom"
    assert str(ConfigIssue("command flags", 0, 0, "boom")) == "command flags: boom"


def test_design_example_loads_with_positions() -> None:
    located = load_repo_file((FIXTURES / "design_repo.yml").read_text())
    assert located.file == ".agents.yml"
    agents = located.data["agents"]
    assert isinstance(agents, dict)
    assert list(agents) == ["claude", "codex", "cheap"]
    assert agents["claude"]["timeout"] == "30m"  # raw data: the schema parses it later
    # Keys point at the key, values at the value (1-based).
    assert located.positions[("agents", "claude")] == (4, 3)
    assert located.positions[("agents", "claude", "model")] == (4, 34)
    assert located.value_positions[("agents", "claude", "model")] == (4, 41)
    assert located.positions[("routes", 1)] == (10, 5)
    assert located.positions[("routes", 1, "fallback", 0)] == (12, 16)


def test_design_org_example_loads() -> None:
    located = load_org_file((FIXTURES / "design_org.yml").read_text(), file="agents.yml")
    assert located.positions[("enforce", "budget", "monthly_usd")] == (16, 21)
    assert located.positions[("repos", "docs-*", "agents", "cheap", "model")] == (15, 15)


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_file_is_an_empty_config(text: str) -> None:
    assert load_repo_file(text).data == {}


def test_top_level_must_be_a_mapping() -> None:
    assert errors("- agents\n") == [
        (
            ".agents.yml:1:1: the top level of .agents.yml must be a mapping of keys like "
            "'agents:' and 'routes:'"
        )
    ]


def test_yaml_syntax_error_has_the_marks_position() -> None:
    found = errors("agents:\n  claude: {adapter: x\nroutes: []\n")
    assert len(found) == 1
    assert found[0].startswith(".agents.yml:3:7: invalid YAML: ")
    assert "line 2" in found[0]  # where the unclosed mapping started


def test_tab_indentation_is_a_syntax_error() -> None:
    (found,) = errors("agents:\n\tclaude: {}\n")
    assert found.startswith(".agents.yml:2:1: invalid YAML:")


def test_duplicate_keys_are_reported_with_the_first_line() -> None:
    text = (
        "agents:\n"
        "  claude: {adapter: codex}\n"
        "  codex: {adapter: codex}\n"
        "  claude: {adapter: aider}\n"
    )
    assert errors(text) == [".agents.yml:4:3: duplicate key 'claude' (first at line 2)"]


def test_duplicate_top_level_key() -> None:
    assert errors("budget: {}\npolicy: {}\nbudget: {}\n") == [
        ".agents.yml:3:1: duplicate key 'budget' (first at line 1)"
    ]


def test_unknown_key_suggests_the_closest_one() -> None:
    text = "agents:\n  claude:\n    adapter: claude-code\n    modle: x\n"
    assert errors(text) == [
        ".agents.yml:4:5: unknown key 'modle' in agents.claude (did you mean 'model'?)"
    ]


def test_unknown_key_without_a_close_match_lists_the_known_ones() -> None:
    assert errors("colour: red\n") == [
        (
            ".agents.yml:1:1: unknown key 'colour' (known: version, agents, routes, triggers, "
            "budget, policy, verify, prices, security, allowed_agents, max_concurrent_runs)"
        )
    ]


def test_wrong_types_point_at_the_value() -> None:
    text = (
        "budget:\n"
        "  per_run_usd: lots\n"
        "policy:\n"
        "  draft: maybe\n"
        "  protected_paths: secrets/\n"
        "triggers: {allow_bots: [1]}\n"
    )
    assert errors(text) == [
        ".agents.yml:2:16: budget.per_run_usd: expected a number, got 'lots'",
        ".agents.yml:4:10: policy.draft: expected true or false, got 'maybe'",
        ".agents.yml:5:20: policy.protected_paths: expected a list, got 'secrets/'",
        (
            ".agents.yml:6:25: triggers.allow_bots[0]: expected text, got the number 1; "
            "put it in quotes to keep it as text"
        ),
    ]


def test_literal_values_suggest_the_closest_choice() -> None:
    assert errors("triggers:\n  min_permission: writ\n") == [
        (
            ".agents.yml:2:19: triggers.min_permission: 'writ' is not one of read, triage, write, "
            "maintain, admin (did you mean 'write'?)"
        )
    ]


def test_wrong_version() -> None:
    assert errors("version: 2\n") == [
        ".agents.yml:1:10: version: Baton implements version 1 of this file, got the number 2"
    ]


def test_bad_duration_and_non_positive_timeout() -> None:
    text = "agents:\n  a: {adapter: x, timeout: soon}\n  b: {adapter: x, timeout: 0}\n"
    assert errors(text) == [
        (
            ".agents.yml:2:28: agents.a.timeout: a duration is a number of seconds or like "
            "90s, 30m, 2h (got 'soon')"
        ),
        ".agents.yml:3:28: agents.b.timeout: input should be greater than 0 (got the number 0)",
    ]


def test_null_section_says_how_to_fix_it() -> None:
    (found,) = errors("budget:\npolicy: {}\n")
    assert found.startswith(".agents.yml:1:8: budget: expected a mapping")
    assert "remove the key or add entries under it" in found


def test_invalid_agent_name_points_at_the_name() -> None:
    (found,) = errors("agents:\n  my agent: {adapter: x}\n")
    assert found.startswith(".agents.yml:2:3: 'my agent' is not a valid agent name")


def test_route_missing_agent_points_at_the_route() -> None:
    text = "routes:\n  - when: {label: x}\n    agnt: claude\n"
    assert errors(text) == [
        ".agents.yml:2:5: routes[0] is missing the required key 'agent'",
        ".agents.yml:3:5: unknown key 'agnt' in routes[0] (did you mean 'agent'?)",
    ]


def test_repo_agent_may_omit_adapter_the_org_supplies() -> None:
    located = load_repo_file("agents:\n  claude: {model: claude-opus-4-1}\n")
    assert located.data == {"agents": {"claude": {"model": "claude-opus-4-1"}}}


def test_all_errors_are_collected_in_file_order() -> None:
    text = "policy: {draft: maybe}\nagents:\n  a: {adapter: x}\n  a: {}\nextra: 1\n"
    found = errors(text)
    assert [issue.split(": ", 1)[0] for issue in found] == [
        ".agents.yml:1:17",
        ".agents.yml:4:3",
        ".agents.yml:5:1",
    ]


def test_org_only_budget_key_is_rejected_in_a_repo_file() -> None:
    (found,) = errors("budget:\n  org_monthly_usd: 100\n")
    assert found.startswith(".agents.yml:2:3: budget.org_monthly_usd caps the whole org")


def test_prices_are_rejected_in_a_repo_file() -> None:
    (found,) = errors("version: 1\nprices:\n  gpt-5: {input: 0, output: 0}\n")
    assert found.startswith(".agents.yml:2:1: prices are the org's negotiated rates")


def test_org_file_may_set_prices() -> None:
    located = load_org_file("defaults:\n  prices:\n    gpt-5: {input: 1, output: 8}\n")
    assert located.data == {"defaults": {"prices": {"gpt-5": {"input": 1, "output": 8}}}}


def test_non_text_keys_are_rejected() -> None:
    (found,) = errors("? [a, b]\n: 1\n")
    assert found == ".agents.yml:1:3: a key must be plain text, not a list or mapping"


def test_unsafe_tags_are_rejected_not_executed() -> None:
    (found,) = errors("budget: {per_run_usd: !!python/object/apply:os.system ['true']}\n")
    assert found.startswith(".agents.yml:1:23: unsupported YAML tag")
    (found,) = errors("budget: {per_run_usd: !!python/name:os.system x}\n")
    assert found.startswith(".agents.yml:1:23: unsupported YAML value:")


def test_merge_keys_share_settings_and_explicit_keys_win() -> None:
    text = (
        "agents:\n"
        "  base: &base {adapter: codex, model: gpt-5-codex, timeout: 10m}\n"
        "  fast:\n"
        "    <<: *base\n"
        "    model: gpt-5-mini\n"
    )
    located = load_repo_file(text)
    agents = located.data["agents"]
    assert isinstance(agents, dict)
    assert agents["fast"] == {"adapter": "codex", "model": "gpt-5-mini", "timeout": "10m"}
    # A merged key's position is where it is written: in the anchored mapping.
    assert located.positions[("agents", "fast", "adapter")] == (2, 16)
    assert located.positions[("agents", "fast", "model")] == (5, 5)


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (found,) = errors("\n".join(lines) + "\n")
    assert "too many values" in found


def test_recursive_alias_is_refused() -> None:
    (found,) = errors("agents: &a\n  x: *a\n")
    assert found == ".agents.yml:1:9: this anchored value contains an alias to itself"


def test_deep_nesting_is_refused() -> None:
    (found,) = errors("a: " + "[" * 3000 + "]" * 3000 + "\n")
    assert "nested too deeply" in found


def test_oversized_file_is_refused() -> None:
    text = "# " + "x" * MAX_BYTES + "\n"
    assert errors(text) == [
        f".agents.yml:1:1: the file is {MAX_BYTES + 3} bytes; the limit is {MAX_BYTES}"
    ]


def test_control_characters_are_a_syntax_error() -> None:
    (found,) = errors("policy:\n  draft: \x07\n")
    assert found.startswith(".agents.yml:2:10: invalid YAML:")


def test_org_file_validates_sections_with_their_positions() -> None:
    text = (
        "defaults:\n"
        "  budget: {per_run_usd: x}\n"
        "repos:\n"
        "  'docs-*':\n"
        "    agents: {a: {adaptr: x}}\n"
        "enforce:\n"
        "  triggers: {min_permision: admin}\n"
        "extras: 1\n"
    )
    assert errors(text, org=True, file="agents.yml") == [
        "agents.yml:2:25: defaults.budget.per_run_usd: expected a number, got 'x'",
        "agents.yml:5:18: unknown key 'adaptr' in repos.docs-*.agents.a (did you mean 'adapter'?)",
        (
            "agents.yml:7:14: unknown key 'min_permision' in enforce.triggers "
            "(did you mean 'min_permission'?)"
        ),
        "agents.yml:8:1: unknown key 'extras' (known: version, defaults, repos, enforce)",
    ]


def test_org_sections_must_be_mappings() -> None:
    found = errors("defaults: [1]\nrepos: {'x': 3}\n", org=True, file="agents.yml")
    assert found == [
        "agents.yml:1:11: defaults: expected a mapping (key: value), got a list",
        "agents.yml:2:14: repos.x: expected a mapping (key: value), got the number 3",
    ]


def test_org_file_may_set_the_org_wide_cap() -> None:
    located = load_org_file("defaults:\n  budget: {org_monthly_usd: 1000}\n")
    assert located.data == {"defaults": {"budget": {"org_monthly_usd": 1000}}}


def test_located_positions_fall_back_to_the_nearest_ancestor() -> None:
    located = Located({}, {("agents",): (2, 1)}, "f")
    assert located.key_position(("agents", "x", "model")) == (2, 1)
    assert located.value_position(("agents", "x")) == (2, 1)
    assert Located({}, {}, "built-in").key_position(("a",)) == (0, 0)
