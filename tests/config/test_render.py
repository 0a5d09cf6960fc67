"""The effective-config listing (`baton config check`, `/agent config`) and the JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config import schema as schema_module
from config.defaults import KNOWN_ADAPTERS
from config.loader import load_org_file, load_repo_file
from config.merge import Effective, effective_config
from config.render import DURATION_PATTERN, SCHEMA_ID, flow, json_schema, render_effective
from config.schema import AgentsConfig
from tests.config.schema_check import check, undocumented

FIXTURES = Path(__file__).parent / "fixtures"


def design_effective() -> Effective:
    return effective_config(
        repo=load_repo_file((FIXTURES / "design_repo.yml").read_text()),
        org=load_org_file((FIXTURES / "design_org.yml").read_text()),
        repo_name="acme/docs-site",
        known_adapters=KNOWN_ADAPTERS,
    )


def repo_effective(text: str) -> Effective:
    return effective_config(
        repo=load_repo_file(text), org=None, repo_name="r", known_adapters=KNOWN_ADAPTERS
    )


def line_for(listing: str, start: str) -> str:
    (found,) = [line for line in listing.splitlines() if line.lstrip().startswith(start)]
    return found.strip()


def test_listing_reads_back_as_the_same_config() -> None:
    eff = design_effective()
    assert AgentsConfig.model_validate(yaml.safe_load(render_effective(eff))) == eff.config


def test_listing_says_where_each_value_came_from() -> None:
    listing = render_effective(design_effective())
    lines = listing.splitlines()
    claude = lines.index("  claude:")
    assert lines[claude + 2] == "    model: claude-sonnet-4-5  # from .agents.yml:4:34"
    assert line_for(listing, "monthly_usd:") == "monthly_usd: 500  # locked by agents.yml:16:21"
    assert line_for(listing, "org_monthly_usd:") == "org_monthly_usd: 2000  # from agents.yml:10:28"
    assert (
        line_for(listing, "max_changed_files:") == "max_changed_files: 50  # from .agents.yml:15:55"
    )
    assert lines[lines.index("routes:") + 4] == (
        '  - {when: {label: "agent:fix"}, agent: claude-code}  # built-in'
    )
    assert lines[lines.index("routes:") + 1] == (
        '  - {when: {label: "agent:fix", paths: ["docs/**"]}, agent: cheap}  # from .agents.yml:8:5'
    )


def test_empty_agent_keys_nobody_set_are_left_out() -> None:
    listing = render_effective(
        repo_effective("agents:\n  mine: {adapter: aider, base_url: null}\n")
    )
    assert "summary:" not in listing
    assert "api_key_env:" not in listing
    # ...but a value a file sets is shown even when empty.
    assert "base_url: null  # from .agents.yml:2:26" in listing


def test_listing_is_safe_inside_a_markdown_fence() -> None:
    text = 'agents:\n  mine: {adapter: aider, model: "x```\\n# y"}\n'
    eff = repo_effective(text)
    listing = render_effective(eff)
    assert "`" not in listing
    assert AgentsConfig.model_validate(yaml.safe_load(listing)) == eff.config


def test_literal_env_values_are_hidden_and_references_shown() -> None:
    text = (
        "agents:\n"
        "  mine:\n"
        "    adapter: command\n"
        "    base_url: https://user:hunter2@gw.example/v1\n"
        "    env: {TOKEN: sk-live-123, KEY: '${VENDOR_KEY}'}\n"
    )
    listing = render_effective(repo_effective(text))
    assert "sk-live-123" not in listing
    assert "hunter2" not in listing
    assert line_for(listing, "TOKEN:") == 'TOKEN: "***"  # from .agents.yml:5:11, value hidden'
    assert line_for(listing, "KEY:") == 'KEY: "${VENDOR_KEY}"  # from .agents.yml:5:31'
    assert "https://***@gw.example/v1" in listing


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "",
        "yes",
        "no",
        "null",
        "~",
        "1.5",
        "0x1f",
        "2024-01-01",
        "agent:fix",
        "a: b",
        "#hash",
        "- dash",
        "*star",
        "&anchor",
        'quote"and\\slash',
        "tab\there",
        "line\nbreak",
        "\u2028sep",
        "ünïcödé",
        1,
        -3,
        0.1,
        1e-05,
        2.5e20,
        True,
        None,
        ["a", "docs/**", 2],
        {"k": "v: w", "n": [1]},
    ],
)
def test_flow_values_read_back_unchanged(value: object) -> None:
    assert yaml.safe_load(f"key: {flow(value)}") == {"key": value}


def test_json_schema_identifies_itself_and_documents_every_key() -> None:
    schema = json_schema()
    assert schema["$id"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"].startswith("Baton .agents.yml")
    assert schema["description"]
    assert undocumented(schema) == []


def test_json_schema_accepts_the_design_example() -> None:
    data = yaml.safe_load((FIXTURES / "design_repo.yml").read_text())
    assert check(json_schema(), data) == []


def test_json_schema_accepts_a_partial_agent_override() -> None:
    assert check(json_schema(), {"agents": {"claude": {"model": "claude-opus-4-1"}}}) == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"agents": {"claude": {"adapter": "x", "modle": "y"}}},
            "$.agents.claude.modle: unknown key",
        ),
        ({"colour": "red"}, "$.colour: unknown key"),
        ({"agents": {"bad name": {"adapter": "x"}}}, "$.agents.bad name: unknown key"),
        ({"agents": {"a": {"timeout": "soon"}}}, "$.agents.a.timeout: matches no alternative"),
        ({"triggers": {"min_permission": "writ"}}, "$.triggers.min_permission: not one of"),
        ({"budget": {"org_monthly_usd": 5}}, "$.budget.org_monthly_usd: unknown key"),
        ({"version": 2}, "$.version: not 1"),
        ({"routes": [{"when": {"label": "x"}}]}, "$.routes[0]: missing 'agent'"),
    ],
)
def test_json_schema_rejects(data: object, problem: str) -> None:
    problems = check(json_schema(), data)
    assert any(found.startswith(problem) for found in problems), problems


def test_json_schema_accepts_durations_the_loader_accepts() -> None:
    assert schema_module._DURATION.pattern == DURATION_PATTERN
    for timeout in ("30m", "90s", "1.5h", "45", 600):
        assert check(json_schema(), {"agents": {"a": {"timeout": timeout}}}) == []
        load_repo_file(f"agents:\n  a: {{adapter: x, timeout: {timeout}}}\n")
