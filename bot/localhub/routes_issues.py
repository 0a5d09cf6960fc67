"""Issue and label routes; each change sends the webhook GitHub would send."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localhub import pushes, shapes, shapes_issues
from bot.localhub.http import (
    ApiError,
    body_json,
    hub_of,
    invalid,
    json_response,
    not_found,
    paginate,
    principal,
    repo_or_404,
    require_user,
    require_write,
)
from bot.localhub.hub import Hub
from bot.localhub.state import Issue, Label, Repo

DEFAULT_COLOR = "ededed"


def issue_or_404(repo: Repo, number: Any) -> Issue:
    try:
        item = repo.issues.get(int(number))
    except ValueError:
        item = None
    if item is None:
        raise not_found()
    return item


def area(item: Issue) -> str:
    """The app permission that covers an issue or PR."""
    return "pull_requests" if item.pull is not None else "issues"


def require_participant(request: Request, repo: Repo, resource: str) -> str:
    """Who may open issues, comment and react: any signed-in user who can see the repo, or an
    installation token with write access to the area. Returns the actor's login."""
    who = require_user(request)
    if who.token is not None or who.kind == "app":
        require_write(request, repo, resource)
    assert who.login is not None
    return who.login


def emit_issue(hub: Hub, repo: Repo, item: Issue, action: str, sender: str,
               **extra: Any) -> None:  # fmt: skip
    fields = {"action": action, "issue": shapes_issues.issue(hub, repo, item), **extra}
    hub.emit("issues", repo, sender, fields)


async def emit_change(hub: Hub, repo: Repo, item: Issue, action: str, sender: str,
                      **extra: Any) -> None:  # fmt: skip
    """`issues.<action>` for an issue, `pull_request.<action>` for a pull request."""
    if item.pull is None:
        emit_issue(hub, repo, item, action, sender, **extra)
    else:
        await pushes.emit_pull(hub, repo, item, action, sender, **extra)


def ensure_label(hub: Hub, repo: Repo, name: str) -> Label:
    found = repo.labels.get(name.lower())
    if found is None:
        found = Label(id=hub.next_id(), name=name, color=DEFAULT_COLOR, description=None)
        repo.labels[name.lower()] = found
    return found


async def create_issue(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    login = require_participant(request, repo, "issues")
    hub = hub_of(request)
    body = await body_json(request)
    title = body.get("title")
    if not isinstance(title, str | int) or not str(title).strip():
        raise invalid("Issue", "title")
    now = time.time()
    who = principal(request)
    item = Issue(
        id=hub.next_id(), number=repo.next_number(), title=str(title), body=body.get("body"),
        user=login, created_at=now, updated_at=now, app_id=who.app_id,
    )  # fmt: skip
    can_label = hub.access(who, repo, "issues") == "write"
    names = [str(n) for n in body.get("labels") or []] if can_label else []
    item.labels = [ensure_label(hub, repo, n).name for n in dict.fromkeys(names)]
    repo.issues[item.number] = item
    emit_issue(hub, repo, item, "opened", login)
    for name in item.labels:
        emit_issue(hub, repo, item, "labeled", login,
                   label=shapes.label(hub, repo, repo.labels[name.lower()]))  # fmt: skip
    return json_response(request, shapes_issues.issue(hub, repo, item), status=201)


async def list_issues(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    state = request.query_params.get("state", "open")
    wanted = {n.strip().lower() for n in request.query_params.get("labels", "").split(",") if n}
    items = [
        i
        for i in sorted(repo.issues.values(), key=lambda i: i.number, reverse=True)
        if state in {"all", i.state} and wanted <= {name.lower() for name in i.labels}
    ]
    if request.query_params.get("direction") == "asc":
        items.reverse()
    page, links = paginate(request, items)
    hub = hub_of(request)
    return json_response(request, [shapes_issues.issue(hub, repo, i) for i in page], headers=links)


async def get_issue(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    item = issue_or_404(repo, request.path_params["number"])
    return json_response(request, shapes_issues.issue(hub_of(request), repo, item))


async def update_issue(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    item = issue_or_404(repo, request.path_params["number"])
    login = require_participant(request, repo, area(item))
    hub = hub_of(request)
    if login.lower() != item.user.lower():
        require_write(request, repo, area(item))
    await apply_edit(hub, repo, item, await body_json(request), login, kind="Issue")
    return json_response(request, shapes_issues.issue(hub, repo, item))


async def apply_edit(
    hub: Hub, repo: Repo, item: Issue, body: dict[str, Any], login: str, *, kind: str
) -> None:
    """Title, body and state edits of an issue or a pull request, and the webhooks they send."""
    changes: dict[str, Any] = {}
    for key in ("title", "body"):
        if key in body and body[key] != getattr(item, key):
            changes[key] = {"from": getattr(item, key)}
            setattr(item, key, body[key])
    state = body.get("state")
    if state is not None and state not in {"open", "closed"}:
        raise invalid(kind, "state", "invalid")
    moved = state in {"open", "closed"} and state != item.state
    if moved:
        item.state = "closed" if state == "closed" else "open"
        item.closed_at = time.time() if state == "closed" else None
        if kind == "Issue":
            item.state_reason = body.get("state_reason") or (
                "completed" if state == "closed" else "reopened"
            )
    if changes or moved:
        item.updated_at = time.time()
    if changes:
        await emit_change(hub, repo, item, "edited", login, changes=changes)
    if moved:
        await emit_change(hub, repo, item, "closed" if state == "closed" else "reopened", login)


def _label_names(body: Any) -> list[str]:
    raw = body.get("labels", []) if isinstance(body, dict) else body
    if not isinstance(raw, list):
        raise invalid("Label", "labels", "invalid")
    return [str(n["name"] if isinstance(n, dict) else n) for n in raw]


async def add_labels(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    item = issue_or_404(repo, request.path_params["number"])
    require_write(request, repo, area(item))
    login = principal(request).login or ""
    hub = hub_of(request)
    names = _label_names(await body_json(request))
    for name in dict.fromkeys(names):
        lab = ensure_label(hub, repo, name)
        if lab.name.lower() in {n.lower() for n in item.labels}:
            continue
        item.labels.append(lab.name)
        item.updated_at = time.time()
        await emit_change(hub, repo, item, "labeled", login, label=shapes.label(hub, repo, lab))
    return _labels_of(request, repo, item)


def _labels_of(request: Request, repo: Repo, item: Issue) -> Response:
    hub = hub_of(request)
    data = [shapes.label(hub, repo, repo.labels[n.lower()]) for n in item.labels]
    return json_response(request, data)


async def list_issue_labels(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    return _labels_of(request, repo, issue_or_404(repo, request.path_params["number"]))


async def remove_label(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    item = issue_or_404(repo, request.path_params["number"])
    require_write(request, repo, area(item))
    name = request.path_params["name"]
    present = next((n for n in item.labels if n.lower() == name.lower()), None)
    if present is None:
        raise ApiError(404, "Label does not exist")
    item.labels.remove(present)
    item.updated_at = time.time()
    hub = hub_of(request)
    lab = repo.labels[present.lower()]
    login = principal(request).login or ""
    await emit_change(hub, repo, item, "unlabeled", login, label=shapes.label(hub, repo, lab))
    return _labels_of(request, repo, item)


async def list_labels(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    hub = hub_of(request)
    page, links = paginate(request, list(repo.labels.values()))
    return json_response(request, [shapes.label(hub, repo, x) for x in page], headers=links)


async def get_label(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    lab = repo.labels.get(request.path_params["name"].lower())
    if lab is None:
        raise not_found()
    return json_response(request, shapes.label(hub_of(request), repo, lab))


async def create_label(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    require_write(request, repo, "issues")
    body = await body_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("Label", "name")
    if name.lower() in repo.labels:
        raise invalid("Label", "name", "already_exists")
    hub = hub_of(request)
    lab = Label(
        id=hub.next_id(), name=name, color=str(body.get("color") or DEFAULT_COLOR).lstrip("#"),
        description=body.get("description"),
    )  # fmt: skip
    repo.labels[name.lower()] = lab
    return json_response(request, shapes.label(hub, repo, lab), status=201)


ROUTES = [
    Route("/repos/{owner}/{repo}/issues", list_issues),
    Route("/repos/{owner}/{repo}/issues", create_issue, methods=["POST"]),
    Route("/repos/{owner}/{repo}/issues/{number:int}", get_issue),
    Route("/repos/{owner}/{repo}/issues/{number:int}", update_issue, methods=["PATCH"]),
    Route("/repos/{owner}/{repo}/issues/{number:int}/labels", list_issue_labels),
    Route("/repos/{owner}/{repo}/issues/{number:int}/labels", add_labels, methods=["POST"]),
    Route(
        "/repos/{owner}/{repo}/issues/{number:int}/labels/{name}", remove_label, methods=["DELETE"]
    ),
    Route("/repos/{owner}/{repo}/labels", list_labels),
    Route("/repos/{owner}/{repo}/labels", create_label, methods=["POST"]),
    Route("/repos/{owner}/{repo}/labels/{name}", get_label),
]
