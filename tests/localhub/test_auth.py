"""Authentication and access as GitHub does them: app JWTs, installation tokens, users."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from githubkit.exception import RequestFailed

from tests.localhub.conftest import APP_ID, BASE, OWNER, REPO, Env, make_keys

pytestmark = pytest.mark.anyio
R = f"repos/{OWNER}/{REPO}"


def client(env: Env, authorization: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": authorization} if authorization else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url=f"{BASE}/api/v3/", headers=headers
    )


async def test_jwt_signed_with_another_key_is_refused(env: Env) -> None:
    async with env.app_github(make_keys().private_pem) as gh:
        with pytest.raises(RequestFailed) as caught:
            await gh.rest.apps.async_get_authenticated()
    assert caught.value.response.status_code == 401


async def test_jwt_living_longer_than_ten_minutes_is_refused(env: Env) -> None:
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 3600, "iss": str(APP_ID)}
    token = jwt.encode(claims, env.keys.private_pem, algorithm="RS256")
    async with client(env, f"Bearer {token}") as c:
        resp = await c.get("app")
    assert resp.status_code == 401
    assert "too far in the future" in resp.json()["message"]


async def test_installation_token_is_not_an_app_credential(env: Env) -> None:
    token = env.hub.mint_token(env.installation_id)
    async with client(env, f"token {token.value}") as c:
        assert (await c.get("app")).status_code == 401
        assert (await c.get(R)).status_code == 200


async def test_expired_and_unknown_tokens_get_bad_credentials(env: Env) -> None:
    env.hub.token_ttl_s = -1
    expired = env.hub.mint_token(env.installation_id)
    for header in (f"token {expired.value}", "Bearer ghs_unknown", "token nobody"):
        async with client(env, header) as c:
            resp = await c.get(R)
        assert resp.status_code == 401
        assert resp.json()["message"] == "Bad credentials"


async def test_down_scoped_token_cannot_write_outside_its_scope(env: Env) -> None:
    async with env.user() as user:
        await user.post("user/repos", json={"name": "other"})
        n = (await user.post(f"{R}/issues", json={"title": "t"})).json()["number"]
    other_repo = env.hub.mint_token(env.installation_id, repositories=["other"])
    read_only = env.hub.mint_token(env.installation_id, permissions={"contents": "read"})
    full = env.hub.mint_token(env.installation_id)
    comment = {"body": "hi"}
    for token, status in ((other_repo, 403), (read_only, 403), (full, 201)):
        async with client(env, f"token {token.value}") as c:
            resp = await c.post(f"{R}/issues/{n}/comments", json=comment)
        assert resp.status_code == status, resp.text
    async with client(env, f"token {read_only.value}") as c:
        body = (await c.post(f"{R}/issues/{n}/comments", json=comment)).json()
    assert body["message"] == "Resource not accessible by integration"


async def test_permissions_not_granted_to_the_app_are_refused(env: Env) -> None:
    async with env.app_github() as gh:
        with pytest.raises(RequestFailed) as caught:
            await gh.rest.apps.async_create_installation_access_token(
                env.installation_id, permissions={"administration": "write"}
            )
    assert caught.value.response.status_code == 422


async def test_private_repositories_are_hidden_from_others(env: Env) -> None:
    env.hub.create_user("mallory")
    async with env.user() as user:
        await user.post("user/repos", json={"name": "secret", "private": True})
        assert (await user.get(f"repos/{OWNER}/secret")).status_code == 200
    for header in ("token mallory", None):
        async with client(env, header) as c:
            resp = await c.get(f"repos/{OWNER}/secret")
        assert resp.status_code == 404
        assert resp.json()["message"] == "Not Found"


async def test_readers_comment_but_only_triagers_and_writers_label(env: Env) -> None:
    env.hub.set_permission(f"{OWNER}/{REPO}", "reader", "read")
    async with env.user() as user:
        n = (await user.post(f"{R}/issues", json={"title": "t"})).json()["number"]
    async with env.user("reader") as reader:
        assert (
            await reader.post(f"{R}/issues/{n}/comments", json={"body": "x"})
        ).status_code == 201
        labels = await reader.post(f"{R}/issues/{n}/labels", json={"labels": ["agent:fix"]})
        assert labels.status_code == 403
    for role in ("triage", "write"):
        env.hub.set_permission(f"{OWNER}/{REPO}", "reader", role)
        async with env.user("reader") as reader:
            labels = await reader.post(f"{R}/issues/{n}/labels", json={"labels": [role]})
            assert labels.status_code == 200


async def test_only_apps_create_check_runs(env: Env) -> None:
    async with env.user() as user:
        head = (await user.get(f"{R}/branches/main")).json()["commit"]["sha"]
        resp = await user.post(f"{R}/check-runs", json={"name": "x", "head_sha": head})
    assert resp.status_code == 403


async def test_permission_api_reports_roles_like_github(env: Env) -> None:
    env.hub.create_org("acme", members=["alice", "bob"])
    async with env.user("alice") as alice:
        assert (await alice.post("orgs/acme/repos", json={"name": "tools"})).status_code == 201
    env.hub.set_permission("acme/tools", "bob", "maintain")
    env.hub.create_user("carol")
    async with env.user() as c:
        got = {
            login: (await c.get(f"repos/acme/tools/collaborators/{login}/permission")).json()
            for login in ("alice", "bob", "carol")
        }
        missing = await c.get("repos/acme/tools/collaborators/ghost/permission")
    assert {k: (v["permission"], v["role_name"]) for k, v in got.items()} == {
        "alice": ("admin", "admin"),
        "bob": ("write", "maintain"),
        "carol": ("none", "none"),
    }
    assert missing.status_code == 404
