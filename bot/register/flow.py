"""The local page of `baton register`, on 127.0.0.1: its button posts the manifest to GitHub's
new-app page; GitHub sends the browser back to `/callback` with a one-time code, which is
exchanged for the App's credentials and written to `.env` and the key file."""

from __future__ import annotations

import asyncio
import html
import json
import secrets
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from adapters import tcp
from bot.gh.errors import GitHubError
from bot.gh.manifest import RegisteredApp, convert_manifest
from bot.register.files import Written, write_settings
from config.settings import SettingsError

if TYPE_CHECKING:
    from pathlib import Path

    import httpx
    from starlette.requests import Request

    from bot.register.manifest import GitHubUrls

CALLBACK_PATH = "/callback"
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


@dataclass
class Registration:
    """One run of the flow: what it posts, where it writes, and (once done) what it wrote."""

    urls: GitHubUrls
    org: str | None
    folder: Path
    public_url: str
    force: bool
    manifest: dict[str, Any] = field(default_factory=dict)
    transport: httpx.AsyncBaseTransport | None = None
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    done: asyncio.Event = field(default_factory=asyncio.Event)
    app: RegisteredApp | None = None
    written: Written | None = None
    failure: str = ""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{_esc(title)}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:720px;margin:40px auto;"
        "padding:0 20px}button{font-size:16px;padding:8px 18px}code{background:#f3f3f3}"
        f"</style></head><body><h1>{_esc(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status, headers={"Content-Security-Policy": _CSP})


def _where(reg: Registration) -> str:
    return f"the organization {reg.org}" if reg.org else "your own account"


async def _start(request: Request) -> Response:
    reg: Registration = request.app.state.registration
    if reg.done.is_set():
        return _page("Already registered", "<p>This page has done its work: see the terminal.</p>")
    action = f"{reg.urls.new_app(reg.org)}?state={reg.state}"
    hook = reg.manifest["hook_attributes"]["url"]
    body = (
        f"<p>Register the GitHub App <b>{_esc(reg.manifest['name'])}</b> on {_esc(_where(reg))}"
        f" at {_esc(reg.urls.web)}. GitHub will send its webhooks to <code>{_esc(hook)}</code>."
        "</p><p>GitHub shows what the App asks for before anything is created; you can change "
        "its name there.</p>"
        f'<form method="post" action="{_esc(action)}">'
        f'<input type="hidden" name="manifest" value="{_esc(json.dumps(reg.manifest))}">'
        "<button type=submit>Register the GitHub App</button></form>"
    )
    return _page("Register Baton's GitHub App", body)


def _done_page(reg: Registration, app: RegisteredApp, written: Written) -> Response:
    install = reg.urls.install(app.slug)
    body = (
        f"<p>GitHub registered <b>{_esc(app.name)}</b> (app id {app.id}). Its settings are in "
        f"<code>{_esc(written.env_file)}</code> and its private key in "
        f"<code>{_esc(written.key_file)}</code>, both readable by you only.</p>"
        f'<p>Next, <a href="{_esc(install)}">install it</a> on {_esc(_where(reg))}, then run '
        "<code>baton serve</code> in that folder. This page can be closed.</p>"
    )
    return _page("Registered", body)


async def _callback(request: Request) -> Response:
    reg: Registration = request.app.state.registration
    if reg.app is not None and reg.written is not None:
        return _done_page(reg, reg.app, reg.written)
    if not secrets.compare_digest(request.query_params.get("state", ""), reg.state):
        return _page("Not this registration", "<p>This code was not asked for here.</p>", 400)
    code = request.query_params.get("code", "")
    if not code:
        return _page("No code", "<p>GitHub sent no code back.</p>", 400)
    try:
        app = await convert_manifest(code, base_url=reg.urls.api, transport=reg.transport)
    except GitHubError as exc:
        body = f'<p>{_esc(exc)}.</p><p><a href="/">Start again</a>.</p>'
        return _page("GitHub refused the code", body, 502)
    try:
        written = write_settings(
            reg.folder, app, urls=reg.urls, public_url=reg.public_url, force=reg.force
        )
    except (SettingsError, OSError) as exc:
        # The App exists on GitHub now: say so, so that it is not registered twice.
        reg.failure = (
            f"GitHub registered the App {app.slug} (id {app.id}) but its settings could not be "
            f"written: {exc}; delete it in its settings on GitHub and register again"
        )
        body = (
            f"<p>GitHub registered {_esc(app.name)} (app id {app.id}), but its settings could "
            f"not be written: {_esc(exc)}. Delete the App in its settings on GitHub and "
            "register again.</p>"
        )
        reg.app = app
        reg.done.set()
        return _page("Registered, but not saved", body, 500)
    reg.app, reg.written = app, written
    reg.done.set()
    return _done_page(reg, app, written)


def local_app(reg: Registration) -> Starlette:
    app = Starlette(routes=[Route("/", _start), Route(CALLBACK_PATH, _callback)])
    app.state.registration = reg
    return app


def bind(host: str, port: int) -> socket.socket:
    # Listening before the address is printed: a browser opened at once waits for the page
    # instead of being refused.
    return tcp.listener(host, port)


async def serve_until_done(reg: Registration, sock: socket.socket) -> None:
    """Serve the local page until the callback has done its work (or the user interrupts)."""
    config = uvicorn.Config(local_app(reg), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        waiting = asyncio.create_task(reg.done.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
    finally:
        # In-flight responses (the "Registered" page) are finished before the server stops.
        server.should_exit = True
        await task
