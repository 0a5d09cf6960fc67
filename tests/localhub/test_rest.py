"""REST behaviour Baton relies on: errors, pagination, ETags, rate limits, faults, call stats."""

from __future__ import annotations

import base64

import pytest
from githubkit.exception import RequestFailed

from tests.localhub.conftest import OWNER, REPO, Env

pytestmark = pytest.mark.anyio
R = f"repos/{OWNER}/{REPO}"


async def test_list_pages_follow_the_link_header(env: Env) -> None:
    async with env.user() as user:
        n = (await user.post(f"{R}/issues", json={"title": "t"})).json()["number"]
        for i in range(5):
            await user.post(f"{R}/issues/{n}/comments", json={"body": f"c{i}"})
        bodies, url = [], f"{R}/issues/{n}/comments?per_page=2"
        while url:
            resp = await user.get(url)
            bodies += [c["body"] for c in resp.json()]
            url = resp.links.get("next", {}).get("url", "")
    assert bodies == [f"c{i}" for i in range(5)]


async def test_pull_request_errors_match_githubs(env: Env) -> None:
    async with env.user() as user:
        first = await user.post(f"{R}/pulls", json={"title": "a", "head": "fix", "base": "main"})
        assert first.status_code == 201
        again = await user.post(f"{R}/pulls", json={"title": "b", "head": "fix", "base": "main"})
        missing = await user.post(f"{R}/pulls", json={"title": "c", "head": "nope", "base": "main"})
        empty = await user.post(f"{R}/pulls", json={"title": "d", "head": "main", "base": "fix"})
    assert again.status_code == 422
    assert again.json()["errors"][0]["message"] == f"A pull request already exists for {OWNER}:fix."
    assert missing.status_code == 422
    assert empty.status_code == 422
    assert "No commits between" in empty.json()["errors"][0]["message"]


async def test_prs_are_issues_sharing_one_number_sequence(env: Env) -> None:
    async with env.user() as user:
        issue = (await user.post(f"{R}/issues", json={"title": "i"})).json()
        pr = await user.post(f"{R}/pulls", json={"title": "p", "head": "fix", "base": "main"})
        number = pr.json()["number"]
        assert number == issue["number"] + 1
        as_issue = (await user.get(f"{R}/issues/{number}")).json()
        listed = (await user.get(f"{R}/issues")).json()
        comment = await user.post(f"{R}/issues/{number}/comments", json={"body": "on the PR"})
        assert (await user.get(f"{R}/pulls/{issue['number']}")).status_code == 404
    assert as_issue["pull_request"]["url"].endswith(f"/pulls/{number}")
    assert [i["number"] for i in listed] == [number, issue["number"]]
    assert "pull_request" not in listed[1]
    assert comment.status_code == 201


async def test_labels_are_created_on_use_and_removing_an_absent_one_is_404(env: Env) -> None:
    async with env.user() as user:
        n = (await user.post(f"{R}/issues", json={"title": "t"})).json()["number"]
        added = await user.post(f"{R}/issues/{n}/labels", json={"labels": ["agent:fix"]})
        assert [x["name"] for x in added.json()] == ["agent:fix"]
        assert (await user.get(f"{R}/labels/agent:fix")).status_code == 200
        removed = await user.delete(f"{R}/issues/{n}/labels/agent:fix")
        assert removed.json() == []
        gone = await user.delete(f"{R}/issues/{n}/labels/agent:fix")
    assert gone.status_code == 404
    assert gone.json()["message"] == "Label does not exist"


async def test_the_same_reaction_twice_is_200_with_the_first(env: Env) -> None:
    async with env.user() as user:
        n = (await user.post(f"{R}/issues", json={"title": "t"})).json()["number"]
        first = await user.post(f"{R}/issues/{n}/reactions", json={"content": "eyes"})
        second = await user.post(f"{R}/issues/{n}/reactions", json={"content": "eyes"})
        bad = await user.post(f"{R}/issues/{n}/reactions", json={"content": "party"})
        rollup = (await user.get(f"{R}/issues/{n}")).json()["reactions"]
    assert (first.status_code, second.status_code, bad.status_code) == (201, 200, 422)
    assert first.json()["id"] == second.json()["id"]
    assert (rollup["eyes"], rollup["total_count"]) == (1, 1)


async def test_contents_raw_media_type_and_missing_file(env: Env) -> None:
    async with env.user() as user:
        as_json = await user.get(f"{R}/contents/calc.py")
        raw = await user.get(
            f"{R}/contents/calc.py", headers={"Accept": "application/vnd.github.raw+json"}
        )
        missing = await user.get(f"{R}/contents/nope.txt")
        listing = await user.get(f"{R}/contents")
    assert base64.b64decode(as_json.json()["content"]) == raw.content
    assert raw.content == b"def add(a, b):\n    return a - b\n"
    assert as_json.headers["etag"] != raw.headers["etag"]
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found"
    assert [(e["name"], e["type"]) for e in listing.json()] == [("calc.py", "file")]


async def test_a_304_is_not_counted_against_the_rate_limit(env: Env) -> None:
    async with env.github() as gh:
        first = await gh.rest.repos.async_get_content(OWNER, REPO, "calc.py")
        second = await gh.rest.repos.async_get_content(OWNER, REPO, "calc.py")
    assert first.content == second.content  # githubkit hands back the cached 200 body
    stats = env.hub.calls(env.installation_id)
    assert (stats.total, stats.counted_against_rate_limit, stats.not_modified_304) == (2, 1, 1)
    assert stats.by_route == {"GET /repos/{owner}/{repo}/contents/{path}": 2}
    assert first.headers["x-ratelimit-remaining"] == "4999"


async def test_rate_limit_headers_count_down_and_run_out(env: Env) -> None:
    env.hub.rate_limit = 3
    token = env.hub.mint_token(env.installation_id)
    async with env.user(token.value) as c:
        answers = [await c.get(R) for _ in range(4)]
        overview = await c.get("rate_limit")
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[3].status_code == 403
    assert "rate limit exceeded" in answers[3].json()["message"]
    assert {a.headers["x-ratelimit-resource"] for a in answers} == {"core"}
    assert overview.status_code == 200  # /rate_limit itself is never counted
    assert overview.json()["resources"]["core"]["remaining"] == 0


async def test_an_injected_502_fails_once_then_github_answers(env: Env) -> None:
    env.hub.add_fault("GET", rf"/repos/{OWNER}/{REPO}$", status=502, count=1)
    async with env.github() as gh:
        with pytest.raises(RequestFailed) as caught:
            await gh.rest.repos.async_get(OWNER, REPO)
        assert caught.value.response.status_code == 502
        ok = await gh.rest.repos.async_get(OWNER, REPO)
    assert ok.status_code == 200


async def test_request_headers_github_sends_back(env: Env) -> None:
    async with env.user() as user:
        resp = await user.get(R, headers={"X-GitHub-Api-Version": "2026-03-10"})
    assert resp.headers["x-github-api-version-selected"] == "2026-03-10"
    assert resp.headers["x-github-request-id"]
    assert resp.headers["x-ratelimit-limit"] == "5000"
