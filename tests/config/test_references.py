"""After the merge, every adapter and agent a config names must exist."""

from __future__ import annotations

from config.issues import ConfigIssue, Path, dotted
from config.references import reference_issues
from config.schema import AgentsConfig


def at(path: Path, message: str) -> ConfigIssue:
    return ConfigIssue(dotted(path), 0, 0, message)


def test_unknown_adapters_then_unknown_route_agents_with_suggestions() -> None:
    config = AgentsConfig.model_validate(
        {
            "version": 1,
            "agents": {"claude": {"adapter": "claude-cod"}, "codex": {"adapter": "codex"}},
            "routes": [{"when": {"label": "x"}, "agent": "claud", "fallback": ["codex", "qwen"]}],
        }
    )
    issues = reference_issues(config, known_adapters={"claude-code", "codex"}, issue=at)
    assert [issue.file for issue in issues] == [
        "agents.claude.adapter",
        "routes[0].agent",
        "routes[0].fallback[1]",
    ]
    adapter, agent, fallback = (issue.message for issue in issues)
    assert adapter == (
        "agent 'claude' uses unknown adapter 'claude-cod' (known: claude-code, codex); "
        "did you mean 'claude-code'?"
    )
    assert (
        agent == "route 1 uses unknown agent 'claud' (known: claude, codex); did you mean 'claude'?"
    )
    assert fallback == "route 1 falls back to unknown agent 'qwen' (known: claude, codex)"


def test_a_config_whose_names_all_exist_has_no_issues() -> None:
    config = AgentsConfig.model_validate(
        {"version": 1, "agents": {"codex": {"adapter": "codex"}}, "routes": []}
    )
    assert reference_issues(config, known_adapters={"codex"}, issue=at) == []
