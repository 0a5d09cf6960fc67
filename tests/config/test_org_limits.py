"""`max_concurrent_runs`: the org's, from its agents.yml; a repository cannot set its own."""

from __future__ import annotations

from config.render import json_schema
from tests.config.test_loader import errors
from tests.config.test_merge import merge


def test_the_org_sets_its_concurrent_runs_for_every_repository() -> None:
    effective = merge(None, "defaults:\n  max_concurrent_runs: 3\n")
    assert effective.config.max_concurrent_runs == 3
    assert merge(None, None).config.max_concurrent_runs is None  # no cap unless the org says


WHY = (
    "max_concurrent_runs caps the whole org's runs at once: set it in the org's agents.yml "
    "(defaults or enforce), not per repository"
)


def test_a_repository_cannot_set_the_orgs_concurrent_runs() -> None:
    assert errors("max_concurrent_runs: 100\n") == [f".agents.yml:1:1: {WHY}"]
    in_repos = "repos:\n  'docs-*':\n    max_concurrent_runs: 2\n"
    assert errors(in_repos, org=True, file="agents.yml") == [f"agents.yml:3:5: {WHY}"]


def test_a_cap_below_one_is_refused_where_it_is() -> None:
    [problem] = errors("defaults:\n  max_concurrent_runs: 0\n", org=True, file="agents.yml")
    assert problem.startswith("agents.yml:2:24: ")


def test_the_repository_schema_does_not_offer_it() -> None:
    assert "max_concurrent_runs" not in json_schema()["properties"]
