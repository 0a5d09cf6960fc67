"""Repository routes: the repository, file contents (read and write), permissions, branches."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localhub import gitstore, pushes, shapes
from bot.localhub.http import (
    ApiError,
    body_json,
    hub_of,
    invalid,
    json_response,
    not_found,
    principal,
    repo_or_404,
    require_write,
)
from bot.localhub.shapes import Json, World
from bot.localhub.state import Repo

# The permission API reports the five roles as GitHub's three legacy levels plus role_name.
LEGACY = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read",
          "read": "read", "none": "none"}  # fmt: skip


async def get_repo(request: Request) -> Response:
    repo = repo_or_404(request)
    who = principal(request)
    viewer = who.login if who.kind == "user" else None
    return json_response(request, shapes.repository(hub_of(request), repo, viewer=viewer))


def _item(w: World, repo: Repo, entry: gitstore.Entry, ref: str) -> Json:
    api = f"{shapes.repo_api(w, repo)}/contents/{entry.path}?ref={ref}"
    html_kind = "tree" if entry.type == "tree" else "blob"
    html = f"{shapes.repo_html(w, repo)}/{html_kind}/{ref}/{entry.path}"
    kind = "dir" if entry.type == "tree" else "file"
    git_url = f"{shapes.repo_api(w, repo)}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
    return {
        "type": kind,
        "size": entry.size,
        "name": entry.path.rsplit("/", 1)[-1],
        "path": entry.path,
        "sha": entry.sha,
        "url": api,
        "git_url": git_url,
        "html_url": html,
        "download_url": f"{w.web_url}/{repo.full_name}/raw/{ref}/{entry.path}"
        if kind == "file"
        else None,
        "_links": {"self": api, "git": git_url, "html": html},
    }


async def get_contents(request: Request) -> Response:
    """A file (base64 JSON, or raw bytes for the raw media type) or a directory listing."""
    repo = repo_or_404(request, "contents")
    path = request.path_params.get("path", "")
    ref = request.query_params.get("ref") or repo.default_branch
    sha = await gitstore.resolve(repo.path, ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    found = await gitstore.entries(repo.path, sha, path)
    if not found:
        raise not_found()
    hub = hub_of(request)
    is_file = len(found) == 1 and found[0].type == "blob" and found[0].path == path.strip("/")
    if not is_file:
        return json_response(request, [_item(hub, repo, e, ref) for e in found])
    data = await gitstore.blob(repo.path, found[0].sha)
    if "raw" in request.headers.get("accept", ""):
        return json_response(request, None, raw=data, media="application/vnd.github.raw")
    encoded = base64.b64encode(data).decode()
    lines = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
    body = {**_item(hub, repo, found[0], ref), "content": lines + "\n", "encoding": "base64"}
    return json_response(request, body)


async def put_contents(request: Request) -> Response:
    """Create or update one file with a commit (201 created, 200 updated)."""
    repo = repo_or_404(request, "contents")
    require_write(request, repo, "contents")
    path = request.path_params["path"].strip("/")
    body = await body_json(request)
    message, content = body.get("message"), body.get("content")
    if not isinstance(message, str) or not message:
        raise invalid("Commit", "message")
    if not isinstance(content, str):
        raise invalid("Commit", "content")
    try:
        data = base64.b64decode(content, validate=False)
    except binascii.Error as exc:
        raise invalid("Commit", "content", "invalid") from exc
    branch = str(body.get("branch") or repo.default_branch)
    hub = hub_of(request)
    before = await gitstore.branches(repo.path)
    if before and branch not in before:
        raise ApiError(404, f"Branch {branch} not found")
    existing = await gitstore.entries(repo.path, before[branch], path) if branch in before else []
    if existing and "sha" not in body:
        raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if existing and body["sha"] != existing[0].sha:
        raise ApiError(409, f"{path} does not match {body['sha']}")
    who = principal(request)
    author = body.get("committer") or body.get("author") or {}
    login = who.login or "localhub"
    name = str(author.get("name") or login)
    email = str(author.get("email") or f"{login}@users.noreply.localhub")
    commit = await gitstore.commit_file(
        repo.path, branch=branch, file_path=path, content=data, message=message,
        name=name, email=email,
    )  # fmt: skip
    await pushes.after_push(hub, repo, login, before)
    entry = (await gitstore.entries(repo.path, commit, path))[0]
    info = await gitstore.commit_info(repo.path, commit)
    result = {
        "content": _item(hub, repo, entry, branch),
        "commit": _git_commit(hub, repo, info),
    }
    return json_response(request, result, status=200 if existing else 201)


def _git_commit(w: World, repo: Repo, info: gitstore.CommitInfo) -> Json:
    api = f"{shapes.repo_api(w, repo)}/git/commits/{info.sha}"
    return {
        "sha": info.sha,
        "node_id": shapes.node_id("Commit", int(info.sha[:8], 16)),
        "url": api,
        "html_url": f"{shapes.repo_html(w, repo)}/commit/{info.sha}",
        "author": {"name": info.author_name, "email": info.author_email,
                   "date": info.author_date},
        "committer": {"name": info.committer_name, "email": info.committer_email,
                      "date": info.committer_date},
        "message": info.message,
        "tree": {"sha": info.tree, "url": f"{shapes.repo_api(w, repo)}/git/trees/{info.tree}"},
        "parents": [
            {"sha": p, "url": f"{shapes.repo_api(w, repo)}/git/commits/{p}",
             "html_url": f"{shapes.repo_html(w, repo)}/commit/{p}"}
            for p in info.parents
        ],
        "verification": {"verified": False, "reason": "unsigned", "signature": None,
                         "payload": None, "verified_at": None},
    }  # fmt: skip


def _commit(w: World, repo: Repo, info: gitstore.CommitInfo) -> Json:
    git_commit = _git_commit(w, repo, info)
    api = f"{shapes.repo_api(w, repo)}/commits/{info.sha}"
    return {
        "url": api,
        "sha": info.sha,
        "node_id": git_commit["node_id"],
        "html_url": git_commit["html_url"],
        "comments_url": f"{api}/comments",
        "commit": {
            "url": git_commit["url"],
            "author": git_commit["author"],
            "committer": git_commit["committer"],
            "message": info.message,
            "comment_count": 0,
            "tree": git_commit["tree"],
            "verification": git_commit["verification"],
        },
        "author": None,
        "committer": None,
        "parents": [
            {
                "sha": p["sha"],
                "url": f"{shapes.repo_api(w, repo)}/commits/{p['sha']}",
                "html_url": p["html_url"],
            }
            for p in git_commit["parents"]
        ],
    }


async def get_permission(request: Request) -> Response:
    repo = repo_or_404(request)
    hub = hub_of(request)
    login = request.path_params["username"]
    account = hub.accounts.get(login.lower())
    if account is None:
        raise ApiError(404, f"{login} is not a user")
    role = hub.permission(repo, account.login)
    body = {
        "permission": LEGACY[role],
        "role_name": role,
        "user": {**shapes.collaborator(hub, account.login, role), "permissions": _flags(role)},
    }
    return json_response(request, body)


def _flags(role: str) -> dict[str, bool]:
    order = ["read", "triage", "write", "maintain", "admin"]
    rank = order.index(role) + 1 if role in order else 0
    return {
        "pull": rank >= 1,
        "triage": rank >= 2,
        "push": rank >= 3,
        "maintain": rank >= 4,
        "admin": rank >= 5,
    }


async def get_branch(request: Request) -> Response:
    repo = repo_or_404(request, "contents")
    name = request.path_params["branch"]
    sha = (await gitstore.branches(repo.path)).get(name)
    if sha is None:
        raise ApiError(404, "Branch not found")
    hub = hub_of(request)
    info = await gitstore.commit_info(repo.path, sha)
    api = f"{shapes.repo_api(hub, repo)}/branches/{name}"
    body: dict[str, Any] = {
        "name": name,
        "commit": _commit(hub, repo, info),
        "_links": {"self": api, "html": f"{shapes.repo_html(hub, repo)}/tree/{name}"},
        "protected": False,
        "protection": {"enabled": False,
                       "required_status_checks": {"enforcement_level": "off", "contexts": [],
                                                  "checks": []}},
        "protection_url": f"{api}/protection",
    }  # fmt: skip
    return json_response(request, body)


async def get_ref(request: Request) -> Response:
    repo = repo_or_404(request, "contents")
    ref = request.path_params["ref"]
    name = ref.removeprefix("heads/")
    sha = (await gitstore.branches(repo.path)).get(name) if ref.startswith("heads/") else None
    if sha is None:
        raise not_found()
    return await _ref_response(request, repo, ref, sha)


async def create_ref(request: Request) -> Response:
    """`POST /git/refs`: a new branch (or tag) at an existing commit."""
    repo = repo_or_404(request, "contents")
    require_write(request, repo, "contents")
    body = await body_json(request)
    ref, sha = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have two slashes")
    if not isinstance(sha, str) or await gitstore.resolve(repo.path, sha) != sha:
        raise ApiError(422, "Object does not exist")
    before = await gitstore.branches(repo.path)
    if await gitstore.resolve(repo.path, ref) is not None:
        raise ApiError(422, "Reference already exists")
    await gitstore.git(repo.path, "update-ref", ref, sha, "")
    await pushes.after_push(hub_of(request), repo, principal(request).login or "", before)
    return await _ref_response(request, repo, ref.removeprefix("refs/"), sha, status=201)


async def _ref_response(request: Request, repo: Repo, ref: str, sha: str, *,
                        status: int = 200) -> Response:  # fmt: skip
    hub = hub_of(request)
    api = f"{shapes.repo_api(hub, repo)}/git/refs/{ref}"
    body = {
        "ref": f"refs/{ref}",
        "node_id": shapes.node_id("Ref", int(sha[:8], 16)),
        "url": api,
        "object": {"type": "commit", "sha": sha,
                   "url": f"{shapes.repo_api(hub, repo)}/git/commits/{sha}"},
    }  # fmt: skip
    return json_response(request, body, status=status)


ROUTES = [
    Route("/repos/{owner}/{repo}/git/refs", create_ref, methods=["POST"]),
    Route("/repos/{owner}/{repo}", get_repo),
    Route("/repos/{owner}/{repo}/contents", get_contents),
    Route("/repos/{owner}/{repo}/contents/{path:path}", get_contents),
    Route("/repos/{owner}/{repo}/contents/{path:path}", put_contents, methods=["PUT"]),
    Route("/repos/{owner}/{repo}/collaborators/{username}/permission", get_permission),
    Route("/repos/{owner}/{repo}/branches/{branch:path}", get_branch),
    Route("/repos/{owner}/{repo}/git/ref/{ref:path}", get_ref),
]
