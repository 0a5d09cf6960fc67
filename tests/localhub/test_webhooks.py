"""Webhook deliveries: GitHub's headers and signatures, strict-model payloads, order, redelivery."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from githubkit.webhooks import parse_obj, verify
from githubkit_schemas.latest.models import (
    WebhookIssueCommentCreated,
    WebhookIssuesLabeled,
    WebhookPullRequestSynchronize,
)

from tests.localhub.conftest import APP_ID, OWNER, REPO, SECRET, Env, b64

pytestmark = pytest.mark.anyio
R = f"repos/{OWNER}/{REPO}"


async def exercise(env: Env) -> None:
    """Everything Baton subscribes to, by a user and by the app's own installation token."""
    async with env.user() as user:
        n = (await user.post(f"{R}/issues", json={"title": "Bug", "labels": ["bug"]})).json()[
            "number"
        ]
        await user.post(f"{R}/issues/{n}/labels", json={"labels": ["agent:fix"]})
        await user.delete(f"{R}/issues/{n}/labels/bug")
        await user.patch(f"{R}/issues/{n}", json={"title": "Bug in add"})
        comment = (await user.post(f"{R}/issues/{n}/comments", json={"body": "/agent fix"})).json()
        await user.patch(f"{R}/issues/comments/{comment['id']}", json={"body": "/agent codex fix"})
        await user.delete(f"{R}/issues/comments/{comment['id']}")
        pr = await user.post(f"{R}/pulls", json={"title": "Fix", "head": "fix", "base": "main"})
        number = pr.json()["number"]
        await user.post(f"{R}/issues/{number}/labels", json={"labels": ["agent:review"]})
        await user.post(f"{R}/issues/{number}/comments", json={"body": "/agent retry"})
        await user.post(
            f"{R}/pulls/{number}/comments",
            json={"body": "/agent fix this", "path": "calc.py", "line": 2},
        )
        current = (await user.get(f"{R}/contents/calc.py", params={"ref": "fix"})).json()
        await user.put(
            f"{R}/contents/calc.py",
            json={"message": "again", "content": b64("x = 1\n"), "branch": "fix",
                  "sha": current["sha"]},
        )  # fmt: skip
        await user.patch(f"{R}/pulls/{number}", json={"state": "closed"})
        await user.patch(f"{R}/issues/{n}", json={"state": "closed"})
    async with env.github() as gh:
        await gh.rest.issues.async_create_comment(OWNER, REPO, n, body="status: running")
    await env.hub.wait_for_deliveries()


async def test_every_payload_parses_with_githubkits_strict_models(env: Env) -> None:
    await exercise(env)
    seen = set()
    for delivery in env.hub.deliveries:
        parse_obj(delivery.event, delivery.payload)
        seen.add((delivery.event, delivery.action))
        assert delivery.status_code == 202
    assert seen >= {
        ("ping", None),
        ("installation", "created"),
        ("issues", "opened"),
        ("issues", "labeled"),
        ("issues", "unlabeled"),
        ("issues", "edited"),
        ("issues", "closed"),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issue_comment", "deleted"),
        ("pull_request", "opened"),
        ("pull_request", "labeled"),
        ("pull_request", "synchronize"),
        ("pull_request", "closed"),
        ("pull_request_review_comment", "created"),
    }


async def test_deliveries_carry_githubs_headers_and_a_valid_signature(env: Env) -> None:
    await exercise(env)
    assert len(env.received) == len(env.hub.deliveries)
    for got, delivery in zip(env.received, env.hub.deliveries, strict=True):
        h = got.headers
        assert h["x-github-event"] == delivery.event
        assert h["x-github-delivery"] == delivery.id
        assert h["x-github-hook-installation-target-type"] == "integration"
        assert h["x-github-hook-installation-target-id"] == str(APP_ID)
        assert h["x-github-hook-id"].isdigit()
        assert h["user-agent"].startswith("GitHub-Hookshot/")
        assert h["content-type"] == "application/json"
        assert verify(SECRET.decode(), got.body, h["x-hub-signature-256"])
        sha1 = "sha1=" + hmac.new(SECRET, got.body, hashlib.sha1).hexdigest()
        assert h["x-hub-signature"] == sha1
        assert json.loads(got.body) == delivery.payload


async def test_label_by_user_is_an_issues_labeled_with_installation_and_sender(env: Env) -> None:
    async with env.user() as user:
        n = (await user.post(f"{R}/issues", json={"title": "Bug"})).json()["number"]
        await user.post(f"{R}/issues/{n}/labels", json={"labels": ["agent:fix"]})
    await env.hub.wait_for_deliveries()
    [payload] = env.events("issues", "labeled")
    event = parse_obj("issues", payload)
    assert isinstance(event, WebhookIssuesLabeled)
    assert event.label is not None
    assert event.label.name == "agent:fix"
    assert event.sender.login == OWNER
    assert event.installation
    assert event.installation.id == env.installation_id
    assert [x.name for x in event.issue.labels or []] == ["agent:fix"]


async def test_comments_on_prs_and_by_the_app_look_like_githubs(env: Env) -> None:
    async with env.user() as user:
        pr = await user.post(f"{R}/pulls", json={"title": "Fix", "head": "fix", "base": "main"})
        number = pr.json()["number"]
        await user.post(f"{R}/issues/{number}/comments", json={"body": "/agent retry"})
    async with env.github() as gh:
        await gh.rest.issues.async_create_comment(OWNER, REPO, number, body="on it")
    await env.hub.wait_for_deliveries()
    by_user, by_app = (parse_obj("issue_comment", p) for p in env.events("issue_comment"))
    assert isinstance(by_user, WebhookIssueCommentCreated)
    assert isinstance(by_app, WebhookIssueCommentCreated)
    assert by_user.issue.pull_request  # set for a PR conversation comment, as on GitHub
    assert not by_user.comment.performed_via_github_app
    assert by_app.sender.login == "baton[bot]"
    assert by_app.sender.type == "Bot"
    assert by_app.comment.user is not None
    assert by_app.comment.user.type == "Bot"
    assert by_app.comment.performed_via_github_app is not None
    assert by_app.comment.performed_via_github_app.id == APP_ID


async def test_a_push_to_a_pr_branch_moves_its_head_and_sends_synchronize(env: Env) -> None:
    async with env.user() as user:
        pr = await user.post(f"{R}/pulls", json={"title": "Fix", "head": "fix", "base": "main"})
        old = pr.json()["head"]["sha"]
        current = (await user.get(f"{R}/contents/calc.py", params={"ref": "fix"})).json()
        put = await user.put(
            f"{R}/contents/calc.py",
            json={"message": "more", "content": b64("y = 2\n"), "branch": "fix",
                  "sha": current["sha"]},
        )  # fmt: skip
        new = put.json()["commit"]["sha"]
        assert (await user.get(f"{R}/pulls/{pr.json()['number']}")).json()["head"]["sha"] == new
    await env.hub.wait_for_deliveries()
    [payload] = env.events("pull_request", "synchronize")
    event = parse_obj("pull_request", payload)
    assert isinstance(event, WebhookPullRequestSynchronize)
    assert (event.before, event.after, event.pull_request.head.sha) == (old, new, new)


async def test_deliveries_of_one_repository_arrive_in_order(env: Env) -> None:
    async with env.user() as user:
        n = (await user.post(f"{R}/issues", json={"title": "Bug"})).json()["number"]
        for i in range(10):
            await user.post(f"{R}/issues/{n}/comments", json={"body": f"c{i}"})
    await env.hub.wait_for_deliveries()
    bodies = [
        json.loads(r.body)["comment"]["body"]
        for r in env.received
        if r.headers["x-github-event"] == "issue_comment"
    ]
    assert bodies == [f"c{i}" for i in range(10)]


async def test_redelivery_resends_the_same_body_under_the_same_id(env: Env) -> None:
    env.hub.webhooks_enabled = False
    async with env.user() as user:
        await user.post(f"{R}/issues", json={"title": "Bug"})
    await env.hub.wait_for_deliveries()
    [missed] = [d for d in env.hub.deliveries if d.event == "issues"]
    assert missed.status_code is None
    assert missed.error is not None
    before = len(env.received)
    env.hub.webhooks_enabled = True
    again = await env.hub.redeliver(missed.id)
    await env.hub.wait_for_deliveries()
    [got] = env.received[before:]
    assert got.headers["x-github-delivery"] == missed.id
    assert json.loads(got.body) == missed.payload
    assert (again.redelivery, again.status_code) == (True, 202)
