"""Commits as the REST API shows them, parsed with githubkit's models: one with its files and
stats, and a pull request's commits oldest first."""

from __future__ import annotations

import pytest
from githubkit.exception import RequestFailed

from tests.localhub.conftest import OWNER, REPO, Env

pytestmark = pytest.mark.anyio


async def test_a_commit_has_its_message_files_and_stats(env: Env) -> None:
    async with env.github() as gh:
        commit = (await gh.rest.repos.async_get_commit(OWNER, REPO, "fix")).parsed_data

    assert commit.commit.message == "Fix add"
    assert commit.stats is not None
    assert (commit.stats.additions, commit.stats.deletions) == (1, 1)
    assert commit.files is not None
    assert [(f.filename, f.status, f.changes) for f in commit.files] == [("calc.py", "modified", 2)]
    assert len(commit.parents) == 1


async def test_an_unknown_ref_is_refused(env: Env) -> None:
    async with env.github() as gh:
        with pytest.raises(RequestFailed) as refused:
            await gh.rest.repos.async_get_commit(OWNER, REPO, "no-such-branch")

    assert refused.value.response.status_code == 422


async def test_a_pull_requests_commits_are_listed_oldest_first(env: Env) -> None:
    async with env.user() as user:
        made = await user.post(
            f"repos/{OWNER}/{REPO}/pulls", json={"title": "Fix", "head": "fix", "base": "main"}
        )
        assert made.status_code == 201, made.text
    async with env.github() as gh:
        commits = (
            await gh.rest.pulls.async_list_commits(OWNER, REPO, made.json()["number"])
        ).parsed_data

    assert [c.commit.message for c in commits] == ["Fix add"]
