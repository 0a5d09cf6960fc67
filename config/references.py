"""After the merge: every adapter, route agent and fallback a config names must exist."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from config.issues import ConfigIssue, IssueAt
from config.schema import AgentsConfig

__all__ = ["reference_issues"]


def reference_issues(
    config: AgentsConfig, *, known_adapters: Collection[str], issue: IssueAt
) -> list[ConfigIssue]:
    """Unknown adapters first, then routes' unknown agents; `issue` points a path at its layer."""
    return [*_adapter_issues(config, known_adapters, issue), *_route_issues(config, issue)]


def _adapter_issues(
    config: AgentsConfig, known_adapters: Collection[str], issue: IssueAt
) -> list[ConfigIssue]:
    known = sorted(known_adapters)
    return [
        issue(
            ("agents", name, "adapter"),
            f"agent {name!r} uses unknown adapter {agent.adapter!r}{_known(agent.adapter, known)}",
        )
        for name, agent in config.agents.items()
        if agent.adapter not in known_adapters
    ]


def _route_issues(config: AgentsConfig, issue: IssueAt) -> list[ConfigIssue]:
    names = sorted(config.agents)
    issues: list[ConfigIssue] = []
    for index, route in enumerate(config.routes):
        if route.agent not in config.agents:
            issues.append(
                issue(
                    ("routes", index, "agent"),
                    f"route {index + 1} uses unknown agent {route.agent!r}"
                    f"{_known(route.agent, names)}",
                )
            )
        for position, name in enumerate(route.fallback):
            if name not in config.agents:
                issues.append(
                    issue(
                        ("routes", index, "fallback", position),
                        f"route {index + 1} falls back to unknown agent {name!r}"
                        f"{_known(name, names)}",
                    )
                )
    return issues


def _known(word: str, names: list[str]) -> str:
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (known: {', '.join(names)}){hint}"
