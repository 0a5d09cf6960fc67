"""Who sees what: nothing without signing in; a person signed in through GitHub sees only the
repositories the App's installations give them, on every page, chart and count; the operator
sees everything and alone reads /metrics; forged and expired sessions are nobody."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.dashboard.auth import SESSION_COOKIE
from bot.dashboard.session import Viewer, session_key, sign
from bot.stack import Stack
from config.settings import load_settings
from tests.dashboard.helpers import REPO, SECRET_REPO, sign_in, two_repos_with_runs

pytestmark = pytest.mark.anyio
YML = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"
PAGES = ["/", "/runs", "/runs/r1", "/spend", "/scoreboard"]


@pytest.fixture
async def runs(stack: Stack) -> dict[str, str]:
    return await two_repos_with_runs(stack, YML)


async def test_nothing_is_shown_before_signing_in(stack: Stack, runs: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=stack.baton_url) as anonymous:
        for path in [*PAGES, f"/runs/{runs[REPO]}"]:
            resp = await anonymous.get(path)
            assert resp.status_code == 303, path
            assert resp.headers["location"].startswith("/login?next=")
        assert (await anonymous.get(f"/runs/{runs[REPO]}/events")).status_code == 401
        metrics = await anonymous.get("/metrics")
        assert metrics.status_code == 401
        assert "baton_runs" not in metrics.text
        login = await anonymous.get("/login")
        assert "Sign in with GitHub" in login.text
        assert runs[REPO] not in login.text


async def test_a_person_sees_only_their_repositories_everywhere(
    stack: Stack, runs: dict[str, str]
) -> None:
    async with sign_in(stack, "ann") as ann:
        listed = await ann.get("/runs")
        assert listed.status_code == 200
        assert runs[REPO] in listed.text
        assert SECRET_REPO not in listed.text
        assert "1 run<" in listed.text
        # A filter naming the other repository finds nothing instead of widening the view.
        filtered = await ann.get("/runs", params={"repo": SECRET_REPO})
        assert runs[SECRET_REPO] not in filtered.text
        assert "0 runs" in filtered.text
        hidden = await ann.get(f"/runs/{runs[SECRET_REPO]}")
        assert hidden.status_code == 404
        missing = await ann.get("/runs/r999")
        assert (missing.status_code, missing.text) == (404, hidden.text)
        assert (await ann.get(f"/runs/{runs[SECRET_REPO]}/events")).status_code == 404
        own = await ann.get(f"/runs/{runs[REPO]}")
        assert own.status_code == 200
        assert "policy check passed" in own.text
        spend = await ann.get("/spend")
        assert REPO in spend.text
        assert SECRET_REPO not in spend.text
        assert (await ann.get("/metrics")).status_code == 403
    async with sign_in(stack, "octocat") as owner:
        listed = await owner.get("/runs")
        assert runs[REPO] in listed.text
        assert runs[SECRET_REPO] in listed.text
        assert "2 runs" in listed.text


async def test_someone_without_access_sees_no_run(stack: Stack, runs: dict[str, str]) -> None:
    async with sign_in(stack, "eve") as eve:
        listed = await eve.get("/runs")
        assert "reaches no repository where Baton is installed" in listed.text
        for run_id in runs.values():
            assert run_id not in listed.text
            assert (await eve.get(f"/runs/{run_id}")).status_code == 404


async def test_forged_and_expired_sessions_are_refused(stack: Stack, runs: dict[str, str]) -> None:
    key = session_key(load_settings(stack.env()))
    everyone = Viewer(login="mallory", repos=None).payload()
    forged = sign(b"a key mallory chose", everyone, now=time.time(), ttl_s=3600)
    expired = sign(key, everyone, now=time.time() - 7200, ttl_s=3600)
    valid = sign(key, everyone, now=time.time(), ttl_s=3600)
    for cookie in (forged, expired, valid[:-3] + "AAA", "garbage"):
        async with httpx.AsyncClient(
            base_url=stack.baton_url, cookies={SESSION_COOKIE: cookie}
        ) as client:
            assert (await client.get("/runs")).status_code == 303
            assert (await client.get("/metrics")).status_code == 401
    async with httpx.AsyncClient(base_url=stack.baton_url, cookies={SESSION_COOKIE: valid}) as ok:
        assert runs[SECRET_REPO] in (await ok.get("/runs")).text


async def test_the_operator_token_signs_in_and_signing_out_ends_the_session(
    stack: Stack, runs: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=stack.baton_url) as browser:
        wrong = await browser.post("/login/token", data={"token": "guess"})
        assert wrong.status_code == 401
        signed = await browser.post("/login/token", data={"token": stack.dashboard_token})
        assert signed.status_code == 303
        assert SESSION_COOKIE in browser.cookies
        assert runs[SECRET_REPO] in (await browser.get("/runs")).text
        assert (await browser.get("/metrics")).status_code == 200
        out = await browser.post("/logout")
        assert out.status_code == 303
        assert SESSION_COOKIE not in browser.cookies
        assert (await browser.get("/runs")).status_code == 303


async def test_a_sign_in_not_started_here_is_refused(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.baton_url) as browser:
        resp = await browser.get("/auth/callback", params={"code": "x", "state": "y"})
        assert resp.status_code == 400
        assert SESSION_COOKIE not in browser.cookies
        # `next` never leads off this server.
        start = await browser.get("/login/github", params={"next": "https://evil.example/"})
        assert start.status_code == 302
        signed = await browser.post(
            "/login/token", data={"token": stack.dashboard_token, "next": "//evil.example/"}
        )
        assert signed.headers["location"] == "/runs"
