"""The layers of a repo's config: their order, and which org sections apply to which repo."""

from __future__ import annotations

import pytest

from config.issues import ConfigError
from config.layers import layer_parts
from config.loader import load_org_file, load_repo_file

ORG = """\
version: 1
defaults:
  budget: {per_run_usd: 5}
repos:
  "widget*": {budget: {per_run_usd: 4}}
  "acme/*": {budget: {per_run_usd: 3}}
  "gadgets": {budget: {per_run_usd: 2}}
enforce:
  budget: {per_run_usd: 1}
"""


def test_layers_go_lowest_first_with_enforce_last() -> None:
    parts, enforce = layer_parts(
        repo=load_repo_file("version: 1\n"),
        org=load_org_file(ORG),
        repo_name="acme/widgets",
        flags={"budget.per_run_usd": 0.5},
        label_prefix="agent:",
    )
    assert [(part.layer, part.pattern) for part in parts] == [
        ("built-in", None),
        ("org defaults", None),
        ("org repos[pattern]", "widget*"),
        ("org repos[pattern]", "acme/*"),
        ("repo", None),
        ("flag", None),
        ("enforce", None),
    ]
    assert enforce is parts[-1]


def test_without_an_org_there_is_no_enforce_layer() -> None:
    parts, enforce = layer_parts(
        repo=None, org=None, repo_name="acme/widgets", flags=None, label_prefix="bot:"
    )
    assert [part.layer for part in parts] == ["built-in"]
    assert enforce is None
    assert parts[0].data["routes"] == [{"when": {"label": "bot:fix"}, "agent": "claude-code"}]


def test_an_org_layer_points_into_the_org_file_under_its_section() -> None:
    parts, _ = layer_parts(
        repo=None, org=load_org_file(ORG), repo_name="acme/widgets", flags=None, label_prefix="a:"
    )
    acme = parts[3]
    assert acme.source(("budget", "per_run_usd")).where == "agents.yml:6:23"
    assert str(acme.issue(("budget",), "boom", at_key=True)) == "agents.yml:6:14: boom"


def test_a_flag_that_names_no_setting_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        layer_parts(repo=None, org=None, repo_name="a/b", flags={"nope": 1}, label_prefix="agent:")
    assert str(caught.value) == "command flags: 'nope' is not a setting a flag can set"
