"""GitHub's web pages for apps: the new-app form a manifest is posted to (for a user or an org),
the app's page and its install page; and the API call that turns a manifest code into the app's
credentials (`POST /app-manifests/{code}/conversions`).

A signed-in user is whoever the form says (`login`): the emulator has no sessions.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.localhub.http import ApiError, hub_of, json_response
from bot.localhub.hub_manifests import ManifestError
from bot.localhub.pages import error_page, esc, form, hidden, page

if TYPE_CHECKING:
    from starlette.requests import Request

    from bot.localhub.hub import Hub
    from bot.localhub.state import App


def _manifest(fields: dict[str, str]) -> dict[str, Any]:
    try:
        manifest = json.loads(fields.get("manifest", ""))
    except ValueError as exc:
        raise ManifestError("the manifest is not valid JSON") from exc
    if not isinstance(manifest, dict):
        raise ManifestError("the manifest must be a JSON object")
    return manifest


def _owner_problem(hub: Hub, org: str | None, login: str) -> str | None:
    user = hub.accounts.get(login.lower())
    if user is None or user.type != "User":
        return f"there is no user {login!r} on this emulator to sign in as"
    if org is None:
        return None
    account = hub.accounts.get(org.lower())
    if account is None or account.type != "Organization":
        return f"there is no organization {org!r}"
    if login.lower() not in account.members:
        return f"{login} is not a member of {org}"
    return None


def _summary(manifest: dict[str, Any]) -> str:
    hook = manifest.get("hook_attributes") or {}
    permissions = manifest.get("default_permissions") or {}
    rows = [
        ("Name", manifest.get("name")),
        ("Homepage", manifest.get("url")),
        ("Webhook URL", hook.get("url") if hook.get("active", True) else "(inactive)"),
        ("Redirect URL", manifest.get("redirect_url") or "(none)"),
        ("Callback URLs", ", ".join(manifest.get("callback_urls") or []) or "(none)"),
        ("Public", "yes" if manifest.get("public") else "no: only this account can install it"),
        ("Permissions", ", ".join(f"{k}: {v}" for k, v in sorted(permissions.items()))),
        ("Events", ", ".join(manifest.get("default_events") or []) or "(none)"),
    ]
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


async def new_app(request: Request) -> Response:
    """`POST /settings/apps/new` and `/organizations/{org}/settings/apps/new` with `manifest`:
    the page on which the signed-in user confirms the registration."""
    hub = hub_of(request)
    org = request.path_params.get("org")
    fields = await form(request)
    try:
        manifest = _manifest(fields)
        hub.check_manifest(manifest)
    except ManifestError as exc:
        return error_page(422, f"This manifest cannot register an app: {exc}")
    if org is not None and org.lower() not in hub.accounts:
        return error_page(404, f"there is no organization {org!r}")
    owner = esc(org) if org else "your personal account"
    body = (
        f"<p>Register a new GitHub App for {owner} from this manifest.</p>"
        f"{_summary(manifest)}"
        '<form method="post" action="/settings/apps/new/confirm" class="box">'
        f"{hidden('manifest', fields['manifest'])}"
        f"{hidden('state', request.query_params.get('state', ''))}"
        f"{hidden('org', org or '')}"
        '<p><label>Signed in as <input name="login" required></label></p>'
        f"<button type=submit>Create GitHub App for {owner}</button></form>"
    )
    return page("Create GitHub App", body)


async def confirm(request: Request) -> Response:
    """The registration itself: the app is made and the browser sent to the manifest's
    `redirect_url` with a one-time `code` (and the `state` it came with)."""
    hub = hub_of(request)
    fields = await form(request)
    org = fields.get("org") or None
    login = fields.get("login", "").strip()
    problem = _owner_problem(hub, org, login)
    if problem is not None:
        return error_page(403, problem)
    try:
        manifest = _manifest(fields)
        app, code = hub.create_from_manifest(manifest, org or login)
    except ManifestError as exc:
        return error_page(422, f"This manifest cannot register an app: {exc}")
    redirect = str(manifest.get("redirect_url") or "")
    if not redirect or urlsplit(redirect).scheme not in {"http", "https"}:
        body = f"<p>Registered {esc(app.name)}. Its manifest code: <code>{esc(code)}</code></p>"
        return page("GitHub App created", body, status=201)
    query = urlencode({"code": code, "state": fields.get("state", "")})
    joiner = "&" if urlsplit(redirect).query else "?"
    return RedirectResponse(f"{redirect}{joiner}{query}", status_code=302)


def _app_by_slug(request: Request) -> App | None:
    slug = request.path_params["slug"]
    return next((a for a in hub_of(request).apps.values() if a.slug == slug), None)


async def app_page(request: Request) -> Response:
    app = _app_by_slug(request)
    if app is None:
        return error_page(404, "Not Found")
    body = (
        f"<p>{esc(app.description or '')}</p><p class=meta>Owned by {esc(app.owner)}</p>"
        f'<p><a href="/apps/{esc(app.slug)}/installations/new">Install</a></p>'
    )
    return page(app.name, body)


def _installable_on(hub: Hub, app: App) -> list[str]:
    """A private app installs on its owner only; a public one on any user or organization."""
    if not app.public:
        return [app.owner]
    return sorted(a.login for a in hub.accounts.values() if a.type != "Bot")


async def install_page(request: Request) -> Response:
    """`GET /apps/{slug}/installations/new`: where to install the app."""
    hub = hub_of(request)
    app = _app_by_slug(request)
    if app is None:
        return error_page(404, "Not Found")
    options = "".join(
        f'<option value="{esc(a)}">{esc(a)}</option>' for a in _installable_on(hub, app)
    )
    body = (
        f'<form method="post" class="box"><p>Install {esc(app.name)} on '
        f'<select name="account">{options}</select> (all repositories)</p>'
        "<button type=submit>Install</button></form>"
    )
    return page(f"Install {app.name}", body)


async def install(request: Request) -> Response:
    """`POST /apps/{slug}/installations/new`: installed on the chosen account; then the app's
    setup URL, or a page saying so."""
    hub = hub_of(request)
    app = _app_by_slug(request)
    if app is None:
        return error_page(404, "Not Found")
    account = (await form(request)).get("account", "")
    if account not in _installable_on(hub, app):
        return error_page(403, f"{app.name} is private: only {app.owner} can install it")
    installation = hub.install(app.id, account)
    if app.setup_url:
        query = urlencode({"installation_id": installation, "setup_action": "install"})
        return RedirectResponse(f"{app.setup_url}?{query}", status_code=302)
    body = f"<p>Installed {esc(app.name)} on {esc(account)} (installation {installation}).</p>"
    return page("Installed", body)


async def convert(request: Request) -> Response:
    """`POST /app-manifests/{code}/conversions`: no credentials needed; the code works once."""
    data = hub_of(request).convert(request.path_params["code"])
    if data is None:
        raise ApiError(404, "Not Found")
    return json_response(request, data, status=201)


ROUTES = [
    Route("/settings/apps/new", new_app, methods=["POST"]),
    Route("/organizations/{org}/settings/apps/new", new_app, methods=["POST"]),
    Route("/settings/apps/new/confirm", confirm, methods=["POST"]),
    Route("/apps/{slug}", app_page),
    Route("/apps/{slug}/installations/new", install_page, methods=["GET"]),
    Route("/apps/{slug}/installations/new", install, methods=["POST"]),
]
API_ROUTES = [Route("/app-manifests/{code}/conversions", convert, methods=["POST"])]
