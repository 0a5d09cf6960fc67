"""An installation's end in the emulator: GitHub's webhooks (strict githubkit models parse
them) and tokens that stop reaching what the installation lost."""

from __future__ import annotations

import pytest
from githubkit.exception import GitHubException, RequestFailed
from githubkit.webhooks import parse_obj
from githubkit_schemas.latest.models import (
    WebhookInstallationDeleted,
    WebhookInstallationRepositoriesRemoved,
    WebhookInstallationSuspend,
)

from bot.localhub import lifecycle
from tests.localhub.conftest import OWNER, REPO, Env

pytestmark = pytest.mark.anyio


def _private(env: Env, name: str) -> None:
    """Made private, so what the installation cannot reach is hidden (not public to all)."""
    repo = env.hub.repo(OWNER, name)
    assert repo is not None
    repo.private = True


async def _token_reads_issues(env: Env) -> bool:
    try:
        async with env.github() as gh:
            await gh.rest.issues.async_list_for_repo(OWNER, REPO)
    except GitHubException:
        return False
    return True


async def test_uninstalling_sends_installation_deleted_and_ends_the_tokens(env: Env) -> None:
    _private(env, REPO)
    assert await _token_reads_issues(env)

    lifecycle.uninstall(env.hub, env.installation_id)
    await env.hub.wait_for_deliveries()

    [payload] = env.events("installation", "deleted")
    event = parse_obj("installation", payload)
    assert isinstance(event, WebhookInstallationDeleted)
    assert event.installation.id == env.installation_id
    assert [r.full_name for r in event.repositories or []] == [f"{OWNER}/{REPO}"]
    assert env.installation_id not in env.hub.installations
    assert not await _token_reads_issues(env)


async def test_suspending_sends_installation_suspend_and_mints_no_token(env: Env) -> None:
    lifecycle.suspend(env.hub, env.installation_id)
    await env.hub.wait_for_deliveries()

    [payload] = env.events("installation", "suspend")
    event = parse_obj("installation", payload)
    assert isinstance(event, WebhookInstallationSuspend)
    assert event.installation.suspended_at is not None
    app = env.app_github()
    async with app:
        with pytest.raises(RequestFailed) as refused:
            await app.rest.apps.async_create_installation_access_token(env.installation_id)
    assert refused.value.response.status_code == 403


async def test_removing_a_repository_sends_installation_repositories_removed(env: Env) -> None:
    _private(env, REPO)
    async with env.user() as user:
        await user.post("user/repos", json={"name": "other", "private": True})

    lifecycle.remove_repositories(env.hub, env.installation_id, [REPO])
    await env.hub.wait_for_deliveries()

    [payload] = env.events("installation_repositories", "removed")
    event = parse_obj("installation_repositories", payload)
    assert isinstance(event, WebhookInstallationRepositoriesRemoved)
    assert [r.full_name for r in event.repositories_removed] == [f"{OWNER}/{REPO}"]
    assert not await _token_reads_issues(env)  # the removed one: hidden, as a private repo is
    async with env.github() as gh:
        await gh.rest.issues.async_list_for_repo(OWNER, "other")  # the rest carry on
