"""App routes (JWT), installation tokens, rate limits and repository creation."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localhub import shapes
from bot.localhub.http import (
    ApiError,
    body_json,
    hub_of,
    invalid,
    json_response,
    not_found,
    paginate,
    principal,
    require_user,
)
from bot.localhub.state import App, Installation, iso

SEARCH_LIMIT = 30


def _app(request: Request) -> App:
    who = principal(request)
    if who.kind != "app" or who.app_id is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    return hub_of(request).apps[who.app_id]


def _own_installation(request: Request) -> Installation:
    app = _app(request)
    inst = hub_of(request).installations.get(int(request.path_params["installation_id"]))
    if inst is None or inst.app_id != app.id:
        raise not_found()
    return inst


async def get_app(request: Request) -> Response:
    return json_response(request, shapes.integration(hub_of(request), _app(request)))


async def list_installations(request: Request) -> Response:
    app = _app(request)
    hub = hub_of(request)
    items = [shapes.installation(hub, i) for i in hub.installations.values() if i.app_id == app.id]
    page, links = paginate(request, items)
    return json_response(request, page, headers=links)


async def get_installation(request: Request) -> Response:
    return json_response(request, shapes.installation(hub_of(request), _own_installation(request)))


async def repo_installation(request: Request) -> Response:
    app = _app(request)
    hub = hub_of(request)
    owner = request.path_params["owner"]
    if "repo" in request.path_params and hub.repo(owner, request.path_params["repo"]) is None:
        raise not_found()
    inst = hub.installation_for(app.id, owner)
    if inst is None:
        raise not_found()
    return json_response(request, shapes.installation(hub, inst))


async def create_token(request: Request) -> Response:
    """Mint an installation token, optionally narrowed to repositories and permissions."""
    inst = _own_installation(request)
    hub = hub_of(request)
    if inst.suspended_at is not None:
        raise ApiError(403, "This installation has been suspended")
    body = await body_json(request)
    names: list[str] | None = body.get("repositories")
    if names is not None and not isinstance(names, list):
        raise invalid("InstallationToken", "repositories", "invalid")
    for name in names or []:
        if hub.repo(inst.account, str(name)) is None:
            raise ApiError(
                422,
                "There is at least one repository that does not exist or is not accessible to"
                " the parent installation.",
            )
    wanted: dict[str, str] | None = body.get("permissions")
    granted = hub.apps[inst.app_id].permissions
    for key, level in (wanted or {}).items():
        have = granted.get(key)
        if have is None or (have == "read" and level != "read"):
            raise ApiError(422, "The permissions requested are not granted to this installation.")
    token = hub.mint_token(
        inst.id, repositories=[str(n) for n in names] if names else None, permissions=wanted
    )
    data: dict[str, Any] = {
        "token": token.value,
        "expires_at": iso(token.expires_at),
        "permissions": token.permissions,
        "repository_selection": "selected" if names else "all",
    }
    if names:
        data["repositories"] = [
            shapes.repository(hub, repo)
            for n in names
            if (repo := hub.repo(inst.account, str(n))) is not None
        ]
    return json_response(request, data, status=201)


async def installation_repositories(request: Request) -> Response:
    who = principal(request)
    hub = hub_of(request)
    if who.token is None:
        raise ApiError(403, "You must authenticate with an installation access token")
    visible = [
        shapes.repository(hub, r)
        for r in hub.repos.values()
        if hub.access(who, r) != "none" and hub.installations[who.token.installation_id].account
        == r.owner
    ]  # fmt: skip
    page, links = paginate(request, visible)
    body = {"total_count": len(visible), "repositories": page}
    return json_response(request, body, headers=links)


async def rate_limit(request: Request) -> Response:
    who = principal(request)
    window = hub_of(request).rate(who.rate_key)
    core = {
        "limit": window.limit,
        "used": window.used,
        "remaining": max(0, window.limit - window.used),
        "reset": int(window.reset),
    }
    search = {"limit": SEARCH_LIMIT, "used": 0, "remaining": SEARCH_LIMIT,
              "reset": int(time.time()) + 60}  # fmt: skip
    body = {"resources": {"core": core, "search": search}, "rate": core}
    return json_response(request, body)


async def create_repo(request: Request) -> Response:
    """`POST /user/repos` and `POST /orgs/{org}/repos` (a user who is a member of the org)."""
    who = require_user(request)
    if who.kind != "user" or who.login is None:
        raise ApiError(403, "Resource not accessible by integration")
    hub = hub_of(request)
    owner = request.path_params.get("org", who.login)
    account = hub.accounts.get(owner.lower())
    if account is None:
        raise not_found()
    if account.type == "Organization" and who.login.lower() not in account.members:
        raise ApiError(403, "You need admin access to the organization to create repositories.")
    body = await body_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("Repository", "name")
    if hub.repo(account.login, name) is not None:
        raise ApiError(
            422,
            "Repository creation failed.",
            [{"resource": "Repository", "code": "custom", "field": "name",
              "message": "name already exists on this account"}],
        )  # fmt: skip
    repo = await hub.create_repo(
        account.login,
        name,
        private=bool(body.get("private", False)),
        description=body.get("description"),
        auto_init=bool(body.get("auto_init", False)),
    )
    if account.type == "Organization":
        # The creator administers the new repository, as on GitHub.
        repo.collaborators[who.login.lower()] = "admin"
    data = shapes.repository(hub, repo, viewer=who.login)
    return json_response(request, data, status=201)


ROUTES = [
    Route("/app", get_app),
    Route("/app/installations", list_installations),
    Route("/app/installations/{installation_id:int}", get_installation),
    Route("/app/installations/{installation_id:int}/access_tokens", create_token, methods=["POST"]),
    Route("/repos/{owner}/{repo}/installation", repo_installation),
    Route("/orgs/{owner}/installation", repo_installation),
    Route("/users/{owner}/installation", repo_installation),
    Route("/installation/repositories", installation_repositories),
    Route("/rate_limit", rate_limit),
    Route("/user/repos", create_repo, methods=["POST"]),
    Route("/orgs/{org}/repos", create_repo, methods=["POST"]),
]
