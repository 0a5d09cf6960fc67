"""What becomes of a pull request in the emulator: merges, reviews, another app's check suites
completing, GitHub's Revert button; each with the webhook GitHub sends, in its strict shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.webhooks import parse_obj
from githubkit_schemas.latest.models import (
    PullRequest,
    PullRequestReview,
    WebhookCheckSuiteCompleted,
    WebhookPullRequestClosed,
    WebhookPullRequestReviewSubmitted,
)

from bot.localhub import gitstore
from tests.localhub.conftest import BASE, OWNER, REPO, Env, make_keys

pytestmark = pytest.mark.anyio
R = f"repos/{OWNER}/{REPO}"
CI_APP = 88


async def open_fix(user: httpx.AsyncClient) -> dict[str, Any]:
    resp = await user.post(f"{R}/pulls", json={"title": "Fix add", "head": "fix", "base": "main"})
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def commit_of(env: Env, sha: str) -> gitstore.CommitInfo:
    repo = env.hub.repo(OWNER, REPO)
    assert repo is not None
    return await gitstore.commit_info(repo.path, sha)


async def calc_on(user: httpx.AsyncClient, ref: str) -> str:
    raw = {"Accept": "application/vnd.github.raw+json"}
    resp = await user.get(f"{R}/contents/calc.py", params={"ref": ref}, headers=raw)
    return resp.text


async def test_a_merge_moves_the_base_and_sends_a_merged_close(env: Env) -> None:
    async with env.user() as user:
        pr = await open_fix(user)
        wrong = await user.put(f"{R}/pulls/{pr['number']}/merge", json={"sha": "0" * 40})
        assert wrong.status_code == 409
        merged = await user.put(f"{R}/pulls/{pr['number']}/merge", json={"sha": pr["head"]["sha"]})
        assert merged.status_code == 200, merged.text
        assert merged.json()["merged"] is True
        sha = merged.json()["sha"]
        assert "return a + b" in await calc_on(user, "main")
        raw = (await user.get(f"{R}/pulls/{pr['number']}")).json()
        after = PullRequest.model_validate(raw)
        # githubkit's schema of 2026-03-10 has no merge_commit_sha; GitHub still sends it.
        assert (after.state, after.merged, raw["merge_commit_sha"]) == ("closed", True, sha)
        assert after.merged_by is not None
        assert after.merged_by.login == OWNER
        again = await user.put(f"{R}/pulls/{pr['number']}/merge", json={})
        assert again.status_code == 405
    await env.hub.wait_for_deliveries()
    [payload] = env.events("pull_request", "closed")
    event = parse_obj("pull_request", payload)
    assert isinstance(event, WebhookPullRequestClosed)
    assert event.pull_request.merged is True
    assert payload["pull_request"]["merge_commit_sha"] == sha
    assert event.sender.login == OWNER


async def test_a_squash_merge_has_one_parent(env: Env) -> None:
    async with env.user() as user:
        pr = await open_fix(user)
        done = await user.put(f"{R}/pulls/{pr['number']}/merge", json={"merge_method": "squash"})
    commit = await commit_of(env, done.json()["sha"])
    assert len(commit.parents) == 1
    assert commit.message.startswith(f"Fix add (#{pr['number']})")


async def test_a_review_is_submitted_with_its_webhook(env: Env) -> None:
    env.hub.create_user("reviewer")
    env.hub.set_permission(f"{OWNER}/{REPO}", "reviewer", "write")
    async with env.user() as user, env.user("reviewer") as reviewer:
        pr = await open_fix(user)
        own = await user.post(f"{R}/pulls/{pr['number']}/reviews", json={"event": "APPROVE"})
        assert own.status_code == 422
        made = await reviewer.post(
            f"{R}/pulls/{pr['number']}/reviews",
            json={"event": "REQUEST_CHANGES", "body": "Please add a test."},
        )
        assert made.status_code == 200, made.text
        review = PullRequestReview.model_validate(made.json())
        assert (review.state, review.commit_id) == ("CHANGES_REQUESTED", pr["head"]["sha"])
        listed = (await user.get(f"{R}/pulls/{pr['number']}/reviews")).json()
        assert [PullRequestReview.model_validate(r).id for r in listed] == [review.id]
    await env.hub.wait_for_deliveries()
    [payload] = env.events("pull_request_review", "submitted")
    event = parse_obj("pull_request_review", payload)
    assert isinstance(event, WebhookPullRequestReviewSubmitted)
    assert (event.review.state, event.review.commit_id) == ("changes_requested", pr["head"]["sha"])
    assert event.pull_request.number == pr["number"]


def ci_app(env: Env) -> GitHub[Any]:
    """A second app, a CI, installed beside Baton; its installation client."""
    keys = make_keys()
    env.hub.register_app(CI_APP, "ci", keys.public_pem, None)
    installation = env.hub.install(CI_APP, OWNER)
    app_gh = GitHub(
        AppAuthStrategy(CI_APP, keys.private_pem),
        base_url=f"{BASE}/api/v3/",
        auto_retry=False,
        async_transport=httpx.ASGITransport(app=env.app),
    )
    return app_gh.with_auth(app_gh.auth.as_installation(installation))


async def test_a_suite_completes_once_all_its_runs_have_with_the_worst_conclusion(
    env: Env,
) -> None:
    async with env.user() as user:
        pr = await open_fix(user)
    head = pr["head"]["sha"]
    async with ci_app(env) as ci:
        lint = await ci.rest.checks.async_create(
            OWNER, REPO, data={"name": "lint", "head_sha": head, "status": "in_progress"}
        )
        tests = await ci.rest.checks.async_create(
            OWNER, REPO, data={"name": "tests", "head_sha": head, "status": "queued"}
        )
        await ci.rest.checks.async_update(
            OWNER, REPO, lint.parsed_data.id, data={"conclusion": "success"}
        )
        await env.hub.wait_for_deliveries()
        assert env.events("check_suite", "completed") == []  # the tests still run
        await ci.rest.checks.async_update(
            OWNER, REPO, tests.parsed_data.id, data={"conclusion": "failure"}
        )
    await env.hub.wait_for_deliveries()
    [payload] = env.events("check_suite", "completed")
    event = parse_obj("check_suite", payload)
    assert isinstance(event, WebhookCheckSuiteCompleted)
    suite = event.check_suite
    assert (suite.head_sha, suite.head_branch, suite.conclusion) == (head, "fix", "failure")
    assert suite.app.slug == "ci"
    assert [p.number for p in suite.pull_requests] == [pr["number"]]
    run = env.hub.repo(OWNER, REPO).check_runs[tests.parsed_data.id]  # type: ignore[union-attr]
    assert [(h["status"], h["conclusion"]) for h in run.history] == [
        ("queued", None),
        ("completed", "failure"),
    ]


async def test_the_revert_button_opens_a_pr_that_undoes_the_merge(env: Env) -> None:
    async with env.user() as user:
        pr = await open_fix(user)
        merge = await user.put(f"{R}/pulls/{pr['number']}/merge", json={})
        admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app), base_url=BASE)
        async with admin:
            made = await admin.post(
                f"/_localhub/repos/{OWNER}/{REPO}/pulls/{pr['number']}/revert",
                json={"login": OWNER},
            )
            assert made.status_code == 201, made.text
            again = await admin.post(
                f"/_localhub/repos/{OWNER}/{REPO}/pulls/{pr['number']}/revert",
                json={"login": OWNER},
            )
            assert again.status_code == 422  # its branch exists already
        revert = (await user.get(f"{R}/pulls/{made.json()['number']}")).json()
        assert revert["title"] == 'Revert "Fix add"'
        assert revert["body"] == f"Reverts {OWNER}/{REPO}#{pr['number']}"
        assert revert["head"]["ref"] == f"revert-{pr['number']}-fix"
        commit = await commit_of(env, revert["head"]["sha"])
        assert f"This reverts commit {merge.json()['sha']}" in commit.message
        done = await user.put(f"{R}/pulls/{revert['number']}/merge", json={})
        assert done.status_code == 200, done.text
        assert "return a - b" in await calc_on(user, "main")
