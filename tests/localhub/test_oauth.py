"""The emulator's user authorization of the App (the OAuth web flow) as GitHub answers it, and
Baton's sign-in reading who the user is and which repositories the App's installations give
them, through githubkit's own models."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from githubkit_schemas.latest.models import PrivateUser
from githubkit_schemas.latest.types import UserInstallationsGetResponse200Type
from pydantic import SecretStr, TypeAdapter

from bot.gh.errors import GitHubError
from bot.gh.user import UserAccess, authorize_url, user_access, web_url
from tests.localhub.conftest import APP_ID, BASE, OWNER, REPO, Env

pytestmark = pytest.mark.anyio
CALLBACK = "http://baton.test/auth/callback"


def web(env: Env) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app), base_url=BASE)


async def _code(env: Env, login: str, *, state: str = "s1") -> str:
    """`login` presses Authorize on the emulator's page: the code the browser carries back."""
    client = env.hub.oauth_client(APP_ID)
    async with web(env) as browser:
        page = await browser.get(
            authorize_url(
                f"{BASE}/api/v3/", client_id=client.client_id, redirect_uri=CALLBACK, state=state
            ).removeprefix(BASE)
        )
        assert page.status_code == 200
        assert 'name="login"' in page.text
        form = {
            "client_id": client.client_id,
            "redirect_uri": CALLBACK,
            "state": state,
            "login": login,
        }
        back = await browser.post("/login/oauth/authorize", data=form)
    assert back.status_code == 302
    location = urlsplit(back.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def test_the_web_pages_are_on_the_host_of_an_enterprise_api_and_on_github_com() -> None:
    assert web_url("https://api.github.com/") == "https://github.com"
    assert web_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com"
    assert web_url(f"{BASE}/api/v3/") == BASE


async def test_a_code_is_exchanged_once_for_a_token_that_acts_as_the_user(env: Env) -> None:
    client = env.hub.oauth_client(APP_ID)
    code = await _code(env, OWNER)
    async with web(env) as browser:
        body = {"client_id": client.client_id, "client_secret": client.client_secret, "code": code}
        sent = await browser.post(
            "/login/oauth/access_token", json=body, headers={"Accept": "application/json"}
        )
        again = await browser.post(
            "/login/oauth/access_token", json=body, headers={"Accept": "application/json"}
        )
        wrong = await browser.post(
            "/login/oauth/access_token",
            data={**body, "client_secret": "nope"},
        )
    token = sent.json()["access_token"]
    assert token.startswith("ghu_")
    assert again.json()["error"] == "bad_verification_code"
    assert parse_qs(wrong.text)["error"] == ["incorrect_client_credentials"]
    async with env.user(token) as user:
        me = await user.get("user")
        listed = await user.get("user/installations")
    assert PrivateUser.model_validate(me.json()).login == OWNER
    parsed = TypeAdapter(UserInstallationsGetResponse200Type).validate_python(listed.json())
    assert [i["id"] for i in parsed["installations"]] == [env.installation_id]


async def test_sign_in_gives_the_repositories_the_users_role_reaches(env: Env) -> None:
    hub = env.hub
    await hub.create_repo(OWNER, "secret", private=True)
    await hub.create_repo(OWNER, "shared")
    hub.set_permission(f"{OWNER}/shared", "ann", "read")
    client = hub.oauth_client(APP_ID)
    transport = httpx.ASGITransport(app=env.app)

    async def sign_in(code: str) -> UserAccess:
        return await user_access(
            f"{BASE}/api/v3/",
            client_id=client.client_id,
            code=code,
            redirect_uri=CALLBACK,
            client_secret=SecretStr(client.client_secret),
            transport=transport,
        )

    owner = await sign_in(await _code(env, OWNER))
    ann = await sign_in(await _code(env, "ann"))
    stranger = await sign_in(await _code(env, "eve"))
    assert owner.login == OWNER
    assert owner.repos == {f"{OWNER}/{REPO}", f"{OWNER}/secret", f"{OWNER}/shared"}
    assert (ann.login, ann.repos) == ("ann", frozenset({f"{OWNER}/shared"}))
    assert stranger.repos == frozenset()
    with pytest.raises(GitHubError, match="sign-in code"):
        await sign_in("used-or-made-up")


async def test_installations_need_a_token_the_user_gave_an_app(env: Env) -> None:
    async with env.user(OWNER) as user:  # the emulator's plain login: no App behind it
        refused = await user.get("user/installations")
    assert refused.status_code == 403
