"""The comment-command grammar."""

from __future__ import annotations

import pytest

from bot.commands import Command, CommandError, find_command_line, parse, usage


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("codex retry", Command(verb="retry", agent="codex")),
        ("retry", Command(verb="retry")),
        ("fix", Command(verb="fix")),
        ('claude fix "also update the docs"',
         Command(verb="fix", agent="claude", instruction="also update the docs")),
        ("retry --fresh --max-cost=2",
         Command(verb="retry", flags={"fresh": True, "max-cost": 2.0})),
        ("codex retry --timeout=20m --model=gpt-5",
         Command(verb="retry", agent="codex", flags={"timeout": 1200.0, "model": "gpt-5"})),
        ("compare claude codex", Command(verb="compare", agents=("claude", "codex"))),
        ("compare a b c", Command(verb="compare", agents=("a", "b", "c"))),
        ("cancel", Command(verb="cancel")),
        ("status", Command(verb="status")),
        ("", Command(verb="help")),
    ],
)  # fmt: skip
def test_valid(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("codex frobnicate", "`frobnicate` is not a verb"),
        ("frobnicate", "`frobnicate` is not a verb"),
        ("retry --max-cost=lots", "not a number"),
        ("retry --max-cost=-1", "negative"),
        ("retry --budget=3", "`--budget` is not a flag"),
        ("retry --model", "needs a value"),
        ("fix --fresh", "only goes with `retry`"),
        ("retry --timeout=soon", "not a duration"),
        ("compare claude", "two or three"),
        ("compare claude claude", "two or three"),
        ("claude compare a b", "after the verb"),
        ("status now", "takes no arguments"),
        ('fix "unclosed', "quotes"),
    ],
)
def test_invalid(text: str, says: str) -> None:
    result = parse(text)
    assert isinstance(result, CommandError)
    assert says in result.message


def test_command_line_is_found_on_any_line() -> None:
    body = "Thanks!\n\n/agent codex retry\nmore text"
    assert find_command_line(body, "/agent") == "codex retry"
    assert find_command_line("see /agent docs", "/agent") is None
    assert find_command_line("/agents retry", "/agent") is None
    assert find_command_line("/agent", "/agent") == ""


def test_overrides_name_the_config_keys() -> None:
    cmd = parse("codex retry --model=gpt-5 --max-cost=1.5 --fresh")
    assert isinstance(cmd, Command)
    assert cmd.overrides("codex") == {
        "agents.codex.model": "gpt-5",
        "agents.codex.max_cost_usd": 1.5,
    }


def test_usage_lists_verbs_flags_and_agents() -> None:
    text = usage("/agent", ["claude", "codex"])
    assert "`/agent [AGENT] VERB" in text
    assert "- `compare`" in text
    assert "`--max-cost`" in text
    assert "`claude`, `codex`" in text
