"""The GitHub layer: a reaction GitHub refuses is skipped, never a failed run or reply."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.github import GitHubApp, GitHubError, GitHubUnavailable, RepoGitHub
from bot.localhub.app import create_localhub
from bot.localhub.hub import Hub
from bot.stack import AppKeys, make_keys

BASE = "http://localhub.test"
API = f"{BASE}/api/v3/"
APP_ID = 31
OWNER = "octocat"
REPO = "calc"

pytestmark = pytest.mark.anyio


@dataclass(frozen=True, slots=True)
class Emulated:
    hub: Hub
    user: httpx.AsyncClient
    gh: RepoGitHub


@pytest.fixture(scope="module")
def keys() -> AppKeys:
    return make_keys()


@pytest.fixture
async def emulated(tmp_path: Path, keys: AppKeys) -> AsyncIterator[Emulated]:
    """The local GitHub emulator in-process, with the app installed on `octocat/calc`."""
    app = create_localhub(data_dir=tmp_path / "hub", webhook_secret=None, public_url=BASE)
    hub: Hub = app.state.hub
    hub.create_user(OWNER)
    hub.register_app(APP_ID, "baton", keys.public_pem, None)
    installation = hub.install(APP_ID, OWNER)
    transport = httpx.ASGITransport(app=app)
    github = GitHubApp(
        app_id=str(APP_ID), private_key=keys.private_pem, base_url=API, transport=transport
    )
    user = httpx.AsyncClient(
        transport=transport, base_url=API, headers={"Authorization": f"token {OWNER}"}
    )
    async with user:
        (await user.post("user/repos", json={"name": REPO})).raise_for_status()
        async with await github.repo(installation, OWNER, REPO) as gh:
            try:
                yield Emulated(hub=hub, user=user, gh=gh)
            finally:
                with contextlib.suppress(TimeoutError):
                    await hub.wait_for_deliveries(timeout_s=5)
                await hub.dispatcher.aclose()


async def test_a_reaction_on_a_deleted_comment_is_skipped(emulated: Emulated) -> None:
    user = emulated.user
    issue = (await user.post(f"repos/{OWNER}/{REPO}/issues", json={"title": "t"})).json()
    comments = f"repos/{OWNER}/{REPO}/issues/{issue['number']}/comments"
    comment = (await user.post(comments, json={"body": "/agent fix"})).json()
    deleted = await user.delete(f"repos/{OWNER}/{REPO}/issues/comments/{comment['id']}")
    assert deleted.status_code == 204

    assert await emulated.gh.react_comment(comment["id"], "eyes") is False
    assert await emulated.gh.react_comment(comment["id"], "eyes", review=True) is False
    assert await emulated.gh.react_issue(issue["number"], "eyes") is True
    reactions = await user.get(f"repos/{OWNER}/{REPO}/issues/{issue['number']}/reactions")
    assert [r["content"] for r in reactions.json()] == ["eyes"]


def refusing(status: int) -> httpx.MockTransport:
    """GitHub minting tokens, and answering every reaction with `status`."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/access_tokens"):
            token = {"token": "ghs_test", "expires_at": "2999-01-01T00:00:00Z"}
            return httpx.Response(201, json=token)
        assert request.url.path.endswith("/reactions")
        return httpx.Response(status, content=json.dumps({"message": "refused"}).encode())

    return httpx.MockTransport(handle)


async def repo_on(transport: httpx.MockTransport, keys: AppKeys) -> RepoGitHub:
    github = GitHubApp(
        app_id="1",
        private_key=keys.private_pem,
        base_url="https://api.github.test/",
        auto_retry=False,
        transport=transport,
    )
    return await github.repo(9, OWNER, REPO)


@pytest.mark.parametrize("status", [403, 404, 410, 422])
async def test_a_reaction_github_refuses_is_skipped(status: int, keys: AppKeys) -> None:
    async with await repo_on(refusing(status), keys) as gh:
        assert await gh.react_issue(1, "eyes") is False
        assert await gh.react_comment(2, "eyes") is False
        assert await gh.react_comment(3, "eyes", review=True) is False


async def test_a_transient_failure_of_a_reaction_is_raised_for_the_queue_to_retry(
    keys: AppKeys,
) -> None:
    async with await repo_on(refusing(502), keys) as gh:
        with pytest.raises(GitHubUnavailable):
            await gh.react_issue(1, "eyes")


async def test_a_bad_credential_is_not_mistaken_for_a_refused_reaction(keys: AppKeys) -> None:
    async with await repo_on(refusing(401), keys) as gh:
        with pytest.raises(GitHubError) as caught:
            await gh.react_comment(2, "eyes")
    assert caught.value.status == 401


@pytest.mark.parametrize("status", [404, 422])
async def test_an_org_without_a_settings_repository_is_the_normal_case(
    status: int, keys: AppKeys, caplog: pytest.LogCaptureFixture
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/access_tokens")
        return httpx.Response(status, json={"message": "no such repository"})

    github = GitHubApp(
        app_id="1",
        private_key=keys.private_pem,
        base_url="https://api.github.test/",
        auto_retry=False,
        transport=httpx.MockTransport(handle),
    )
    with caplog.at_level(logging.INFO, logger="bot.gh.app"):
        assert await github.read_settings_file(9, OWNER, ".github", "agents.yml") is None
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, "no org settings repository; using the repository's config only")
    ]
