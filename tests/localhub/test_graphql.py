"""The draft state of a pull request, which GitHub changes only through GraphQL: the emulator's
two mutations, driven through Baton's own client (githubkit parses the answers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.github import GitHubError, RepoGitHub
from tests.localhub.conftest import BASE, OWNER, REPO, Env

pytestmark = pytest.mark.anyio
R = f"repos/{OWNER}/{REPO}"
GRAPHQL = f"{BASE}/api/graphql"


async def test_a_draft_is_marked_ready_and_back_with_its_webhooks(env: Env) -> None:
    async with env.user() as user:
        resp = await user.post(
            f"{R}/pulls", json={"title": "p", "head": "fix", "base": "main", "draft": True}
        )
        number = resp.json()["number"]
    async with RepoGitHub(env.github(), owner=OWNER, name=REPO) as gh:
        pr = await gh.get_pull(number)
        assert pr.draft
        assert pr.node_id
        assert not await gh.set_draft(pr, draft=False)
        assert not (await gh.get_pull(number)).draft
        assert not await gh.set_draft(pr, draft=False)  # already ready: nothing changes
        assert await gh.set_draft(pr, draft=True)
        assert (await gh.get_pull(number)).draft
    actions = [p["action"] for p in env.events("pull_request")]
    assert actions == ["opened", "ready_for_review", "converted_to_draft"]
    assert env.events("pull_request", "ready_for_review")[0]["pull_request"]["draft"] is False


async def test_other_graphql_is_refused_in_graphqls_shape(env: Env) -> None:
    async with env.user() as user:
        other = await user.post(GRAPHQL, json={"query": "query { viewer { login } }"})
        unknown = await user.post(
            GRAPHQL,
            json={
                "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: "
                "{pullRequestId: $id}) { pullRequest { isDraft } } }",
                "variables": {"id": "nope"},
            },
        )
    async with env.user("") as anonymous:
        anonymous.headers.pop("Authorization")
        refused = await anonymous.post(GRAPHQL, json={"query": "query { x }"})
    assert other.status_code == 200
    assert "localhub answers only" in other.json()["errors"][0]["message"]
    assert unknown.json()["errors"][0]["type"] == "NOT_FOUND"
    assert refused.status_code == 401
    async with env.user() as user:
        resp = await user.post(f"{R}/pulls", json={"title": "p", "head": "fix", "base": "main"})
    async with RepoGitHub(env.github(), owner=OWNER, name=REPO) as gh:
        pr = await gh.get_pull(int(resp.json()["number"]))
        with pytest.raises(GitHubError, match="GraphQL API refused it"):
            await gh.set_draft(replace(pr, node_id="nope"), draft=True)
