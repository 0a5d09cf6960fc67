"""The org's kill switch: `paused`, `reason`, `cancel_running` and `resume_queued` under the org
file's `enforce` (nowhere else), carried beside the effective config with where it is set."""

from __future__ import annotations

import pytest

from config.defaults import KNOWN_ADAPTERS
from config.loader import ConfigError, load_org_file, load_repo_file
from config.merge import effective_config
from config.render import render_effective

ORG = "acme/.github:agents.yml"


def test_the_kill_switch_sits_beside_the_locked_keys_of_enforce() -> None:
    org = load_org_file(
        'version: 1\nenforce:\n  budget: {monthly_usd: 5}\n  paused: true\n  reason: "audit"\n'
        "  resume_queued: true\n",
        file=ORG,
    )
    eff = effective_config(repo=None, org=org, repo_name="app", known_adapters=KNOWN_ADAPTERS)
    pause = eff.pause
    assert (pause.paused, pause.reason, pause.cancel_running, pause.resume_queued) == (
        True,
        "audit",
        False,
        True,
    )
    assert eff.pause_source is not None
    assert eff.pause_source.where == f"{ORG}:4:3"
    assert eff.config.budget.monthly_usd == 5  # the rest of enforce still locks
    assert "budget.monthly_usd" in eff.locked
    assert (
        "# org kill switch: {paused: true, reason: audit, cancel_running: false, "
        f"resume_queued: true}}  # locked by {ORG}:4:3"
    ) in render_effective(eff)


def test_without_a_switch_nothing_is_paused() -> None:
    eff = effective_config(repo=None, org=None, repo_name="app", known_adapters=KNOWN_ADAPTERS)
    assert not eff.pause.paused
    assert eff.pause_source is None
    assert "kill switch" not in render_effective(eff)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("version: 1\ndefaults:\n  paused: true\n", f"{ORG}:3:3"),
        ('version: 1\nrepos:\n  "docs-*": {cancel_running: true}\n', f"{ORG}:3:14"),
    ],
)
def test_the_switch_anywhere_but_enforce_is_an_error(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_org_file(text, file=ORG)
    [issue] = caught.value.issues
    assert str(issue).startswith(where)
    assert "is part of the org's kill switch: set it under `enforce`" in issue.message


def test_a_repository_cannot_pause_itself() -> None:
    with pytest.raises(ConfigError) as caught:
        load_repo_file("version: 1\npaused: true\n")
    assert "paused is part of the org's kill switch" in str(caught.value)


def test_a_bad_switch_value_is_reported_where_it_is() -> None:
    with pytest.raises(ConfigError) as caught:
        load_org_file("version: 1\nenforce:\n  paused: maybe\n", file=ORG)
    assert str(caught.value.issues[0]) == (
        f"{ORG}:3:11: enforce.paused: expected true or false, got 'maybe'"
    )
