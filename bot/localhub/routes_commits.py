"""Commits as the REST API shows them: one commit with its files (`GET /repos/{o}/{r}/commits/
{ref}`) and a pull request's commits (`GET /repos/{o}/{r}/pulls/{n}/commits`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from bot.localhub import gitstore, shapes
from bot.localhub.http import ApiError, hub_of, json_response, not_found, paginate, repo_or_404

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from bot.localhub.hub import Hub
    from bot.localhub.state import Repo

_R = "/repos/{owner}/{repo}"
_UNSIGNED = {"verified": False, "reason": "unsigned", "payload": None, "signature": None}


def _person(name: str, email: str, date: str) -> dict[str, str]:
    return {"name": name, "email": email, "date": date}


def commit_shape(hub: Hub, repo: Repo, info: gitstore.CommitInfo) -> dict[str, Any]:
    api, html = shapes.repo_api(hub, repo), shapes.repo_html(hub, repo)
    return {
        "url": f"{api}/commits/{info.sha}",
        "sha": info.sha,
        "node_id": shapes.node_id("Commit", int(info.sha[:12], 16)),
        "html_url": f"{html}/commit/{info.sha}",
        "comments_url": f"{api}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{info.sha}",
            "author": _person(info.author_name, info.author_email, info.author_date),
            "committer": _person(info.committer_name, info.committer_email, info.committer_date),
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
            "verification": _UNSIGNED,
        },
        "author": None,
        "committer": None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info.parents
        ],
    }


def files_shape(hub: Hub, repo: Repo, head: str, changes: list[gitstore.FileChange]) -> list[Any]:
    api, html = shapes.repo_api(hub, repo), shapes.repo_html(hub, repo)
    return [
        {
            "sha": c.sha,
            "filename": c.filename,
            "status": c.status,
            "additions": c.additions,
            "deletions": c.deletions,
            "changes": c.additions + c.deletions,
            "blob_url": f"{html}/blob/{head}/{c.filename}",
            "raw_url": f"{html}/raw/{head}/{c.filename}",
            "contents_url": f"{api}/contents/{c.filename}?ref={head}",
            "patch": c.patch,
        }
        for c in changes
    ]


async def get_commit(request: Request) -> Response:
    repo = repo_or_404(request, "contents")
    hub = hub_of(request)
    ref = request.path_params["ref"]
    sha = await gitstore.resolve(repo.path, ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    info = await gitstore.commit_info(repo.path, sha)
    parent = info.parents[0] if info.parents else gitstore.EMPTY_TREE
    changes = await gitstore.diff(repo.path, parent, sha)
    added = sum(c.additions for c in changes)
    deleted = sum(c.deletions for c in changes)
    body = {
        **commit_shape(hub, repo, info),
        "stats": {"additions": added, "deletions": deleted, "total": added + deleted},
        "files": files_shape(hub, repo, sha, changes),
    }
    return json_response(request, body)


async def pull_commits(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    item = repo.issues.get(request.path_params["number"])
    if item is None or item.pull is None:
        raise not_found()
    hub = hub_of(request)
    shas = await gitstore.commits_between(repo.path, item.pull.base_sha, item.pull.head_sha)
    items = [commit_shape(hub, repo, await gitstore.commit_info(repo.path, s)) for s in shas]
    page, links = paginate(request, items)
    return json_response(request, page, headers=links)


ROUTES = [
    Route(_R + "/commits/{ref:path}", get_commit),
    Route(_R + "/pulls/{number:int}/commits", pull_commits),
]
