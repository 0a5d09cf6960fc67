"""The user authorization of an app, as GitHub serves it: the web flow's pages on the site
(`/login/oauth/authorize`, `/login/oauth/access_token`) and the user's own API (`GET /user`, the
installations the user can reach and their repositories)."""

from __future__ import annotations

import html
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.localhub import shapes
from bot.localhub.http import ApiError, hub_of, json_response, not_found, paginate, principal
from bot.localhub.hub_oauth import OAuthError
from bot.localhub.state import iso

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Authorize {app}</title>
<style>body{{font:16px system-ui,sans-serif;max-width:28em;margin:4em auto}}
input,button{{font:inherit;padding:.4em}}</style></head><body>
<h1>Authorize {app}</h1><p>{app} wants to know who you are and which repositories you can
see through its installations.</p>
<form method="post" action="/login/oauth/authorize">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="state" value="{state}">
<label>Sign in to localhub as <input name="login" id="login" autocomplete="off" required></label>
<button type="submit" id="authorize">Authorize {app}</button></form></body></html>"""


async def _fields(request: Request) -> dict[str, str]:
    """A form (GitHub's default) or a JSON body, as one mapping of strings."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data: Any = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


async def authorize_page(request: Request) -> Response:
    hub = hub_of(request)
    params = request.query_params
    client = hub.client_by_id(params.get("client_id", ""))
    if client is None:
        return HTMLResponse("<h1>404</h1><p>No application has this client_id.</p>", 404)
    values = {
        "app": html.escape(hub.apps[client.app_id].name),
        "client_id": html.escape(client.client_id),
        "redirect_uri": html.escape(params.get("redirect_uri", "")),
        "state": html.escape(params.get("state", "")),
    }
    return HTMLResponse(_PAGE.format(**values))


async def authorize(request: Request) -> Response:
    """The user pressed Authorize: back to the app's callback with a code and the state."""
    form = await _fields(request)
    redirect_uri = form.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")) or not form.get("login"):
        return HTMLResponse("<p>A login and the app's redirect_uri are needed.</p>", 400)
    try:
        code = hub_of(request).grant(form.get("client_id", ""), form["login"], redirect_uri)
    except OAuthError as exc:
        return HTMLResponse(f"<p>{html.escape(exc.description)}</p>", 400)
    query = urlencode({"code": code, "state": form.get("state", "")})
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)


async def access_token(request: Request) -> Response:
    """GitHub answers 200 even for a refused exchange, with `error` in the body; JSON only when
    the client asks for it (`Accept: application/json`), else a form-encoded body."""
    form = await _fields(request)
    try:
        token = hub_of(request).exchange(
            form.get("client_id", ""),
            form.get("client_secret", ""),
            form.get("code", ""),
            form.get("redirect_uri") or None,
        )
        body: dict[str, Any] = {
            "access_token": token.value,
            "expires_in": int(token.expires_at - time.time()),
            "scope": "",
            "token_type": "bearer",
        }
    except OAuthError as exc:
        body = {
            "error": exc.error,
            "error_description": exc.description,
            "error_uri": "https://docs.github.com/apps/oauth",
        }
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(body)
    return Response(urlencode(body), media_type="application/x-www-form-urlencoded")


def _user_login(request: Request) -> str:
    who = principal(request)
    if who.kind != "user" or who.login is None:
        raise ApiError(401, "Requires authentication")
    return who.login


def _app_of_user_token(request: Request) -> int:
    who = principal(request)
    _user_login(request)
    if who.app_id is None:
        raise ApiError(
            403,
            "You must authenticate with an access token authorized to a GitHub App in order "
            "to list installations",
        )
    return who.app_id


async def get_user(request: Request) -> Response:
    """The signed-in user, with the private fields GitHub adds for its owner."""
    hub = hub_of(request)
    login = _user_login(request)
    account = hub.account(login)
    owned = [r for r in hub.repos.values() if r.owner.lower() == login.lower()]
    data = {
        **shapes.user(hub, account.login),
        "name": None,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": sum(1 for r in owned if not r.private),
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": iso(account.created_at),
        "updated_at": iso(account.created_at),
        "private_gists": 0,
        "total_private_repos": sum(1 for r in owned if r.private),
        "owned_private_repos": sum(1 for r in owned if r.private),
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": False,
    }
    return json_response(request, data)


def _visible(request: Request, account: str, login: str) -> list[Any]:
    """Repositories of `account` the user has a role on (read or more), as GitHub lists them
    for a user-to-server token: public ones without a role are not among them."""
    hub = hub_of(request)
    return [
        r
        for r in sorted(hub.repos.values(), key=lambda r: r.id)
        if r.owner.lower() == account.lower() and hub.permission(r, login) != "none"
    ]


async def user_installations(request: Request) -> Response:
    hub = hub_of(request)
    app_id = _app_of_user_token(request)
    login = _user_login(request)
    items = [
        shapes.installation(hub, inst)
        for inst in sorted(hub.installations.values(), key=lambda i: i.id)
        if inst.app_id == app_id
        and (inst.account.lower() == login.lower() or _visible(request, inst.account, login))
    ]
    page, links = paginate(request, items)
    return json_response(request, {"total_count": len(items), "installations": page}, headers=links)


async def user_installation_repositories(request: Request) -> Response:
    hub = hub_of(request)
    app_id = _app_of_user_token(request)
    login = _user_login(request)
    inst = hub.installations.get(int(request.path_params["installation_id"]))
    if inst is None or inst.app_id != app_id:
        raise not_found()
    visible = _visible(request, inst.account, login)
    repos = [shapes.repository(hub, r, viewer=login) for r in visible]
    if not repos and inst.account.lower() != login.lower():
        raise not_found()
    page, links = paginate(request, repos)
    body = {"total_count": len(repos), "repository_selection": "all", "repositories": page}
    return json_response(request, body, headers=links)


WEB_ROUTES = [
    Route("/login/oauth/authorize", authorize_page, methods=["GET"]),
    Route("/login/oauth/authorize", authorize, methods=["POST"]),
    Route("/login/oauth/access_token", access_token, methods=["POST"]),
]
API_ROUTES = [
    Route("/user", get_user),
    Route("/user/installations", user_installations),
    Route("/user/installations/{installation_id:int}/repositories", user_installation_repositories),
]
