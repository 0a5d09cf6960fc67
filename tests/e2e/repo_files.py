"""The repository the end-to-end tests work on: a calculator with a bug, and its issue."""

from __future__ import annotations

import difflib

CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"

FIXED = CALC.replace("return a - b", "return a + b", 1)
PATCH = (
    "```diff\n"
    + "".join(
        difflib.unified_diff(
            CALC.splitlines(keepends=True), FIXED.splitlines(keepends=True), "a/calc.py",
            "b/calc.py",
        )
    )
    + "```\n"
)  # fmt: skip

ISSUE_TITLE = "add() subtracts"
ISSUE_BODY = "`add(2, 3)` returns -1.\n\nProposed fix:\n\n" + PATCH


def agents_yml(agent: str = "demo", extra_agents: str = "", min_permission: str = "write") -> str:
    return (
        "version: 1\n"
        "agents:\n"
        "  demo: {adapter: scripted, model: scripted-1}\n"
        f"{extra_agents}"
        "routes:\n"
        '  - when: {label: "agent:fix"}\n'
        f"    agent: {agent}\n"
        f"triggers: {{min_permission: {min_permission}}}\n"
    )
