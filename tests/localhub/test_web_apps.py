"""The manifest flow as GitHub runs it: the new-app form (user or org), the confirmation, the
redirect with a one-time code, the conversion to the app's credentials; then installing it."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit_schemas.latest.models import AppManifestsCodeConversionsPostResponse201

from tests.forms import forms, submit
from tests.localhub.conftest import BASE, OWNER, RECEIVER, Env

pytestmark = pytest.mark.anyio

REDIRECT = "http://127.0.0.1:9/registered"
ORG = "acme"


def manifest(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Baton for acme",
        "url": "https://baton.example.org",
        "hook_attributes": {"url": RECEIVER, "active": True},
        "redirect_url": REDIRECT,
        "callback_urls": ["https://baton.example.org/auth/callback"],
        "public": False,
        "default_events": ["issues", "issue_comment"],
        "default_permissions": {"issues": "write", "contents": "write"},
    }
    data.update(changes)
    return data


def web(env: Env) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app), base_url=BASE)


async def register(
    env: Env, data: dict[str, Any], *, org: str | None = None, login: str = OWNER
) -> httpx.Response:
    """Post the manifest to the new-app form, then confirm as `login`: GitHub's answer."""
    path = f"/organizations/{org}/settings/apps/new" if org else "/settings/apps/new"
    async with web(env) as client:
        shown = await client.post(
            path, params={"state": "s-123"}, data={"manifest": json.dumps(data)}
        )
        assert shown.status_code == 200, shown.text
        return await submit(client, shown, login=login)


async def convert(env: Env, code: str) -> httpx.Response:
    async with web(env) as client:
        return await client.post(f"/api/v3/app-manifests/{code}/conversions")


def code_of(answer: httpx.Response) -> str:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["s-123"]
    return query["code"][0]


async def test_the_code_is_exchanged_once_for_the_apps_credentials(env: Env) -> None:
    code = code_of(await register(env, manifest()))

    answer = await convert(env, code)
    again = await convert(env, code)

    assert answer.status_code == 201
    created = AppManifestsCodeConversionsPostResponse201.model_validate(answer.json())
    assert (created.name, created.slug) == ("Baton for acme", "baton-for-acme")
    assert created.events == ["issues", "issue_comment"]
    assert created.webhook_secret
    assert created.client_secret
    assert created.pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert again.status_code == 404
    # The key GitHub handed over is the app's: its JWT reads the app.
    gh = GitHub(
        AppAuthStrategy(created.id, created.pem),
        base_url=f"{BASE}/api/v3/",
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
        async_transport=httpx.ASGITransport(app=env.app),
    )
    me = (await gh.rest.apps.async_get_authenticated()).parsed_data
    assert me is not None
    assert (me.id, me.client_id) == (created.id, created.client_id)


async def test_the_new_app_signs_its_webhooks_with_its_own_secret(env: Env) -> None:
    created = (await convert(env, code_of(await register(env, manifest())))).json()
    await env.hub.wait_for_deliveries(timeout_s=5)

    ping = next(r for r in env.received if r.headers["x-github-event"] == "ping"
                and json.loads(r.body)["hook"]["app_id"] == created["id"])  # fmt: skip
    secret = created["webhook_secret"].encode()
    expected = "sha256=" + hmac.new(secret, ping.body, hashlib.sha256).hexdigest()
    assert ping.headers["x-hub-signature-256"] == expected


async def test_an_org_app_is_the_orgs_and_private_apps_install_there_only(env: Env) -> None:
    env.hub.create_org(ORG, members=[OWNER])
    created = (await convert(env, code_of(await register(env, manifest(), org=ORG)))).json()
    slug = created["slug"]
    assert created["owner"]["login"] == ORG

    async with web(env) as client:
        offered = await client.get(f"/apps/{slug}/installations/new")
        elsewhere = await client.post(f"/apps/{slug}/installations/new", data={"account": OWNER})
        there = await client.post(f"/apps/{slug}/installations/new", data={"account": ORG})

    assert [f.options for f in forms(offered)] == [{"account": [ORG]}]
    assert elsewhere.status_code == 403
    assert there.status_code == 200
    assert env.hub.installation_for(created["id"], ORG) is not None


async def test_only_a_member_registers_an_app_for_an_org(env: Env) -> None:
    env.hub.create_org(ORG, members=["someone-else"])

    answer = await register(env, manifest(), org=ORG)

    assert answer.status_code == 403
    assert "octocat is not a member of acme" in answer.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hook_attributes": {"active": True}}, "hook_attributes.url can&#x27;t be blank"),
        ({"url": ""}, "url can&#x27;t be blank"),
        ({"name": "x" * 35}, "name is too long"),
    ],
)
async def test_a_manifest_github_would_refuse_is_refused(
    env: Env, changes: dict[str, Any], message: str
) -> None:
    async with web(env) as client:
        answer = await client.post(
            "/settings/apps/new", data={"manifest": json.dumps(manifest(**changes))}
        )

    assert answer.status_code == 422
    assert message in answer.text


async def test_a_name_in_use_is_refused(env: Env) -> None:
    code_of(await register(env, manifest()))

    async with web(env) as client:
        answer = await client.post(
            "/settings/apps/new", data={"manifest": json.dumps(manifest(name="Baton For ACME"))}
        )

    assert answer.status_code == 422
    assert "Name is already in use" in answer.text


async def test_the_manifest_is_shown_escaped(env: Env) -> None:
    hostile = manifest(name="<script>x</script>", description="<img src=x onerror=alert(1)>")
    async with web(env) as client:
        shown = await client.post("/settings/apps/new", data={"manifest": json.dumps(hostile)})

    assert "<script>x" not in shown.text
    assert "&lt;script&gt;x&lt;/script&gt;" in shown.text
    assert "script-src" not in shown.headers["content-security-policy"]
    assert "default-src 'none'" in shown.headers["content-security-policy"]


async def test_users_log_in_with_the_client_the_conversion_handed_over(env: Env) -> None:
    created = (await convert(env, code_of(await register(env, manifest())))).json()
    callback = "https://baton.example.org/auth/callback"

    code = env.hub.grant(created["client_id"], OWNER, callback)
    token = env.hub.exchange(created["client_id"], created["client_secret"], code, callback)

    assert (token.app_id, token.login) == (created["id"], OWNER)
