"""Against a running LocalHubServer: githubkit end to end, and the real git over smart HTTP."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestFailed

from bot.localhub.server import LocalHubServer
from tests.localhub.conftest import APP_ID, OWNER, REPO, SLUG, Keys, make_keys

pytestmark = pytest.mark.slow


@pytest.fixture
async def server(tmp_path: Path, keys: Keys) -> AsyncIterator[LocalHubServer]:
    async with LocalHubServer(data_dir=tmp_path / "hub", webhook_secret=b"s") as srv:
        srv.hub.create_user(OWNER)
        srv.hub.register_app(APP_ID, SLUG, keys.public_pem, None)
        srv.hub.install(APP_ID, OWNER)
        async with httpx.AsyncClient(
            base_url=srv.api_url, headers={"Authorization": f"token {OWNER}"}
        ) as user:
            created = await user.post("user/repos", json={"name": REPO, "auto_init": True})
            created.raise_for_status()
        yield srv


@pytest.fixture
def threaded(tmp_path: Path, keys: Keys) -> Iterator[LocalHubServer]:
    """Served from its own thread: these tests block on git, which must not stall the server."""
    srv = LocalHubServer(data_dir=tmp_path / "hub", webhook_secret=b"s")
    srv.start()
    try:
        srv.hub.create_user(OWNER)
        srv.hub.register_app(APP_ID, SLUG, keys.public_pem, None)
        srv.hub.install(APP_ID, OWNER)
        created = httpx.post(
            f"{srv.api_url}user/repos",
            json={"name": REPO, "auto_init": True},
            headers={"Authorization": f"token {OWNER}"},
        )
        created.raise_for_status()
        yield srv
    finally:
        srv.stop()


def git_env(token: str | None) -> dict[str, str]:
    """How Baton hands git a token: an http.extraHeader in GIT_CONFIG_* env, never argv."""
    config = [("credential.helper", "")]
    if token is not None:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": "/nonexistent",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": str(len(config)),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.test",
    }
    for i, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def git(*args: str, cwd: Path, token: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(token), capture_output=True, text=True, check=False
    )


@pytest.mark.anyio
async def test_githubkit_end_to_end_as_an_installation(server: LocalHubServer, keys: Keys) -> None:
    hub = server.hub
    iid = hub.installation_for(APP_ID, OWNER)
    assert iid is not None
    app_gh = GitHub(
        AppAuthStrategy(APP_ID, make_keys().private_pem),
        base_url=server.api_url,
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
    )
    with pytest.raises(RequestFailed) as caught:
        await app_gh.rest.apps.async_get_authenticated()
    assert caught.value.response.status_code == 401

    app_gh = GitHub(
        AppAuthStrategy(APP_ID, keys.private_pem),
        base_url=server.api_url,
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
    )
    gh = app_gh.with_auth(app_gh.auth.as_installation(iid.id))
    async with gh:
        readme = await gh.rest.repos.async_get_content(OWNER, REPO, "README.md")
        again = await gh.rest.repos.async_get_content(OWNER, REPO, "README.md")
        assert readme.content == again.content
        perm = await gh.rest.repos.async_get_collaborator_permission_level(OWNER, REPO, OWNER)
        assert perm.parsed_data.permission == "admin"
        issue = await gh.rest.issues.async_create(OWNER, REPO, title="Bug")
        number = issue.parsed_data.number
        comment = await gh.rest.issues.async_create_comment(OWNER, REPO, number, body="queued")
        edited = await gh.rest.issues.async_update_comment(
            OWNER, REPO, comment.parsed_data.id, body="done"
        )
        assert edited.parsed_data.body == "done"
        reaction = await gh.rest.reactions.async_create_for_issue(
            OWNER, REPO, number, content="eyes"
        )
        assert reaction.parsed_data.user is not None
        assert reaction.parsed_data.user.login == f"{SLUG}[bot]"
        main = await gh.rest.repos.async_get_branch(OWNER, REPO, "main")
        await gh.rest.git.async_create_ref(
            OWNER, REPO, ref="refs/heads/work", sha=main.parsed_data.commit.sha
        )
        await gh.rest.repos.async_create_or_update_file_contents(
            OWNER, REPO, "fix.txt", message="fix", content="Zml4Cg==", branch="work"
        )
        pr = await gh.rest.pulls.async_create(
            OWNER, REPO, title="Fix", head="work", base="main", body="Fixes #1", draft=True
        )
        assert pr.parsed_data.draft is True
        run = await gh.rest.checks.async_create(
            OWNER, REPO, name="Baton", head_sha=pr.parsed_data.head.sha, status="in_progress"
        )
        done = await gh.rest.checks.async_update(
            OWNER, REPO, run.parsed_data.id, status="completed", conclusion="success"
        )
        assert done.parsed_data.conclusion == "success"
    stats = hub.calls(iid.id)
    assert stats.not_modified_304 == 1
    assert stats.counted_against_rate_limit == stats.total - 1
    assert len(hub.tokens) == 1  # one token minted, then reused for every call


def test_git_clone_and_push_with_an_installation_token(
    threaded: LocalHubServer, tmp_path: Path
) -> None:
    server = threaded
    hub = server.hub
    inst = hub.installation_for(APP_ID, OWNER)
    assert inst is not None
    token = hub.mint_token(inst.id, repositories=[REPO]).value
    url = f"{server.url}/{OWNER}/{REPO}.git"
    clone = tmp_path / "clone"
    cloned = git("clone", "-q", url, str(clone), cwd=tmp_path)  # public: anonymous clone works
    assert cloned.returncode == 0, cloned.stderr
    (clone / "new.txt").write_text("hello\n")
    git("add", "new.txt", cwd=clone)
    git("commit", "-qm", "Add new.txt", cwd=clone)
    sha = git("rev-parse", "HEAD", cwd=clone).stdout.strip()

    # Asked for credentials (401 + Basic challenge), git has none to give: refused.
    anonymous = git("push", "-q", url, "HEAD:refs/heads/topic", cwd=clone)
    assert anonymous.returncode != 0
    assert "could not read Username" in anonymous.stderr
    assert "topic" not in git("ls-remote", url, cwd=clone).stdout

    pushed = git("push", "-q", url, "HEAD:refs/heads/topic", cwd=clone, token=token)
    assert pushed.returncode == 0, pushed.stderr
    assert token not in pushed.stderr
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"token {OWNER}"}) as user:
        branch = user.get(f"repos/{OWNER}/{REPO}/branches/topic").json()
        assert branch["commit"]["sha"] == sha
        pr = user.post(
            f"repos/{OWNER}/{REPO}/pulls", json={"title": "t", "head": "topic", "base": "main"}
        )
        number = pr.json()["number"]
        (clone / "new.txt").write_text("hello again\n")
        git("commit", "-qam", "Again", cwd=clone)
        again = git("push", "-q", url, "HEAD:refs/heads/topic", cwd=clone, token=token)
        assert again.returncode == 0, again.stderr
        head = user.get(f"repos/{OWNER}/{REPO}/pulls/{number}").json()["head"]["sha"]
    assert head == git("rev-parse", "HEAD", cwd=clone).stdout.strip()

    hub.token_ttl_s = -1
    expired = hub.mint_token(inst.id).value
    refused = git("push", "-q", url, "HEAD:refs/heads/other", cwd=clone, token=expired)
    assert refused.returncode != 0
    assert expired not in refused.stderr


def test_a_reader_cannot_push(threaded: LocalHubServer, tmp_path: Path) -> None:
    server = threaded
    server.hub.set_permission(f"{OWNER}/{REPO}", "reader", "read")
    url = f"{server.url}/{OWNER}/{REPO}.git"
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), cwd=tmp_path)
    git("commit", "-q", "--allow-empty", "-m", "x", cwd=clone)
    refused = git("push", "-q", url, "HEAD:refs/heads/r", cwd=clone, token="reader")
    assert refused.returncode != 0
    assert "403" in refused.stderr or "denied" in refused.stderr


def test_sync_start_and_stop_serve_from_a_thread(tmp_path: Path) -> None:
    srv = LocalHubServer(data_dir=tmp_path / "hub", webhook_secret=None)
    srv.start()
    try:
        srv.hub.create_user(OWNER)
        resp = httpx.get(f"{srv.api_url}rate_limit", headers={"Authorization": f"token {OWNER}"})
        assert resp.status_code == 200
    finally:
        srv.stop()
