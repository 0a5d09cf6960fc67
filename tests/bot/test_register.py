"""`baton register`: the manifest it posts, GitHub's addresses, the files it leaves, and the
flow through its local page against the emulator (the form post, the redirect, the exchange)."""

from __future__ import annotations

import asyncio
import io
import socket
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from bot.cli import build_parser
from bot.localhub.app import create_localhub
from bot.localhub.hub import Hub
from bot.register.cli import register
from bot.register.manifest import build_manifest, github_urls, load_app_yml, shipped_manifest
from config.dotenv import parse
from config.settings import SettingsError, load_settings
from tests.forms import forms, submit

pytestmark = pytest.mark.anyio

HUB = "http://github.test"
PUBLIC = "https://baton.example.org"
ORG = "acme"
ADMIN = "octocat"


@pytest.mark.parametrize(
    ("given", "web", "api"),
    [
        ("https://github.com", "https://github.com", "https://api.github.com/"),
        ("https://api.github.com/", "https://github.com", "https://api.github.com/"),
        ("https://ghe.example.com", "https://ghe.example.com", "https://ghe.example.com/api/v3/"),
        (
            "https://ghe.example.com/api/v3/",
            "https://ghe.example.com",
            "https://ghe.example.com/api/v3/",
        ),
        ("https://octo.ghe.com", "https://octo.ghe.com", "https://api.octo.ghe.com/"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000", "http://127.0.0.1:9000/api/v3/"),
    ],
)
def test_githubs_web_and_api_addresses_from_either(given: str, web: str, api: str) -> None:
    urls = github_urls(given)
    assert (urls.web, urls.api) == (web, api)


def test_the_new_app_page_is_the_users_or_the_orgs() -> None:
    urls = github_urls("https://ghe.example.com")
    assert urls.new_app(None) == "https://ghe.example.com/settings/apps/new"
    assert urls.new_app(ORG) == "https://ghe.example.com/organizations/acme/settings/apps/new"
    assert urls.install("baton") == "https://ghe.example.com/apps/baton/installations/new"


def test_the_manifest_is_app_yml_with_where_baton_runs() -> None:
    app_yml = load_app_yml(shipped_manifest())
    manifest = build_manifest(
        app_yml, public_url=PUBLIC + "/", redirect_url="http://127.0.0.1:5/callback", name=None
    )

    assert manifest["name"] == "baton"
    assert manifest["url"] == PUBLIC
    assert manifest["hook_attributes"] == {"url": f"{PUBLIC}/webhooks", "active": True}
    assert manifest["redirect_url"] == "http://127.0.0.1:5/callback"
    assert manifest["callback_urls"] == [f"{PUBLIC}/auth/callback"]
    assert manifest["public"] is False
    assert manifest["default_events"] == app_yml["default_events"]
    assert manifest["default_permissions"] == app_yml["default_permissions"]


def test_a_name_and_a_public_app_yml_are_kept() -> None:
    manifest = build_manifest(
        {"name": "x", "public": True}, public_url=PUBLIC, redirect_url="r", name="Baton (acme)"
    )
    assert (manifest["name"], manifest["public"]) == ("Baton (acme)", True)


def test_app_yml_has_no_placeholder_hook_url() -> None:
    app_yml = yaml.safe_load(shipped_manifest().read_text())
    assert "url" not in app_yml["hook_attributes"]
    assert "url" not in app_yml  # the homepage defaults to the public URL


def test_register_is_a_baton_command() -> None:
    args = build_parser().parse_args(
        ["register", "--org", ORG, "--github-url", HUB, "--public-url", PUBLIC, "--force"]
    )
    assert (args.org, args.github_url, args.public_url, args.force) == (ORG, HUB, PUBLIC, True)


# The flow, with the emulator in this process and the local page on a real socket.


@dataclass
class Flow:
    hub: Hub
    folder: Path
    out: io.StringIO
    task: asyncio.Task[int]
    local: str
    browser: httpx.AsyncClient


async def _local_url(out: io.StringIO, task: asyncio.Task[int]) -> str:
    for _ in range(500):
        for word in out.getvalue().split():
            if word.startswith("http://127.0.0.1:"):
                return word.rstrip("/")
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    raise AssertionError(f"no local page announced: {out.getvalue()}")


@pytest.fixture
async def flow(tmp_path: Path) -> AsyncIterator[Flow]:
    app = create_localhub(data_dir=tmp_path / "hub", webhook_secret=None, public_url=HUB)
    hub: Hub = app.state.hub
    hub.create_org(ORG, members=[ADMIN])
    folder = tmp_path / "baton"
    folder.mkdir()
    out = io.StringIO()
    github = httpx.ASGITransport(app=app)
    task = asyncio.create_task(
        register(
            org=ORG,
            github_url=HUB,
            public_url=PUBLIC,
            name=None,
            force=False,
            folder=folder,
            out=out,
            transport=github,
        )
    )
    # The browser reaches GitHub (the emulator, in process) and the local page (its socket).
    async with httpx.AsyncClient(mounts={HUB: github}, timeout=30) as browser:
        try:
            yield Flow(hub, folder, out, task, await _local_url(out, task), browser)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await hub.dispatcher.aclose()


async def _to_github(flow: Flow) -> httpx.Response:
    """The local page's button: the manifest posted to the org's new-app page."""
    start = await flow.browser.get(flow.local + "/")
    (form,) = forms(start)
    assert form.action.startswith(f"{HUB}/organizations/{ORG}/settings/apps/new?state=")
    return await submit(flow.browser, start)


async def test_the_whole_flow_writes_a_working_env(flow: Flow) -> None:
    confirm = await _to_github(flow)
    assert "Create GitHub App for acme" in confirm.text
    redirect = await submit(flow.browser, confirm, login=ADMIN)
    assert redirect.status_code == 302
    assert redirect.headers["location"].startswith(flow.local + "/callback?code=")
    done = await flow.browser.get(redirect.headers["location"])

    assert done.status_code == 200, done.text
    assert await asyncio.wait_for(flow.task, 10) == 0
    (app,) = flow.hub.apps.values()
    assert (app.owner, app.webhook_url, app.public) == (ORG, f"{PUBLIC}/webhooks", False)
    env_file = flow.folder / ".env"
    key_file = flow.folder / f"{app.slug}.private-key.pem"
    for path in (env_file, key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = parse(env_file.read_text())
    assert values == {
        "BATON_APP_ID": str(app.id),
        "BATON_APP_SLUG": app.slug,
        "BATON_PRIVATE_KEY_PATH": key_file.name,
        "BATON_WEBHOOK_SECRET": (app.webhook_secret or b"").decode(),
        "BATON_CLIENT_ID": app.client_id,
        "BATON_CLIENT_SECRET": app.client_secret,
        "BATON_PUBLIC_URL": PUBLIC,
        "BATON_GITHUB_URL": f"{HUB}/api/v3/",
    }
    settings = load_settings({**values, "BATON_PRIVATE_KEY_PATH": str(key_file)})
    assert settings.server_problems() == []
    printed = flow.out.getvalue()
    assert f"Install it on the organization acme: {HUB}/apps/{app.slug}/installations/new" in (
        printed
    )
    assert "baton serve" in printed
    for secret in (app.client_secret, (app.webhook_secret or b"").decode()):
        assert secret not in printed
        assert secret not in done.text


async def test_a_code_not_asked_for_here_is_refused(flow: Flow) -> None:
    answer = await flow.browser.get(flow.local + "/callback", params={"code": "x", "state": "y"})

    assert answer.status_code == 400
    assert not flow.task.done()
    assert not (flow.folder / ".env").exists()


async def test_a_used_code_is_githubs_refusal_and_the_page_can_start_again(flow: Flow) -> None:
    confirm = await _to_github(flow)
    redirect = await submit(flow.browser, confirm, login=ADMIN)
    code = redirect.headers["location"].split("code=")[1].split("&")[0]
    flow.hub.convert(code)  # someone else exchanged it first

    answer = await flow.browser.get(redirect.headers["location"])

    assert answer.status_code == 502
    assert "exchange the manifest code: GitHub answered 404" in answer.text
    assert not flow.task.done()


async def test_an_existing_env_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BATON_APP_ID=1\n")

    with pytest.raises(SettingsError, match=r"\.env exists: .* pass --force to replace it"):
        await register(
            org=None,
            github_url=HUB,
            public_url=PUBLIC,
            name=None,
            force=False,
            folder=tmp_path,
            out=io.StringIO(),
        )
    assert (tmp_path / ".env").read_text() == "BATON_APP_ID=1\n"


@pytest.mark.parametrize(
    ("public_url", "message"),
    [("", "--public-url is needed"), ("baton.example.org", r"is not an http\(s\) URL")],
)
async def test_a_public_url_is_needed(tmp_path: Path, public_url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        await register(
            org=None,
            github_url=HUB,
            public_url=public_url,
            name=None,
            force=False,
            folder=tmp_path,
            out=io.StringIO(),
        )


async def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SettingsError, match=f"--port {port}: cannot listen on 127.0.0.1"):
            await register(
                org=None,
                github_url=HUB,
                public_url=PUBLIC,
                name=None,
                force=False,
                folder=tmp_path,
                port=port,
                out=io.StringIO(),
            )
