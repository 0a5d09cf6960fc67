"""Which agents the doctor checks: the real CLIs the org file names, else the built-in route's."""

from __future__ import annotations

from bot.doctor.agents import ConfiguredAgent, configured_agents
from config.loader import load_org_file


def test_without_an_org_file_the_built_in_routed_agent_is_checked() -> None:
    assert configured_agents([]) == [
        ConfiguredAgent("claude-code", "claude-code", "ANTHROPIC_API_KEY")
    ]


def test_agents_named_anywhere_in_the_org_file_are_checked_with_their_key_variable() -> None:
    org = load_org_file(
        "version: 1\n"
        "defaults:\n"
        "  agents:\n"
        "    reviewer: {adapter: codex, model: gpt-5-codex, api_key_env: TEAM_OPENAI_KEY}\n"
        "    helper: {adapter: scripted}\n"
        "repos:\n"
        "  'web-*':\n"
        "    routes: [{when: {label: 'agent:fix'}, agent: gemini}]\n"
    )

    assert configured_agents([org]) == [
        ConfiguredAgent("reviewer", "codex", "TEAM_OPENAI_KEY"),
        ConfiguredAgent("gemini", "gemini", "GEMINI_API_KEY"),
    ]
