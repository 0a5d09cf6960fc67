"""GitHub's "Revert" button: a branch `revert-<n>-<head>` holding a commit that undoes a merged
pull request's merge, and a pull request of it whose body says `Reverts owner/repo#<n>`.

GitHub offers it in its web UI (and GraphQL), not in REST, so the emulator offers it to tests and
the demo as `POST /_localhub/repos/{owner}/{repo}/pulls/{number}/revert {"login": ...}`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.localhub import gitmerge, gitstore, pushes
from bot.localhub.http import hub_of
from bot.localhub.state import Issue, Pull

if TYPE_CHECKING:
    from starlette.requests import Request

    from bot.localhub.hub import Hub
    from bot.localhub.state import Repo


class RevertError(Exception):
    """The pull request cannot be reverted; the message says why."""


def _message(item: Issue, merge_sha: str, parents: tuple[str, ...]) -> str:
    said = f"This reverts commit {merge_sha}"
    if len(parents) > 1:
        said += f", reversing\nchanges made to {parents[0]}"
    return f'Revert "{item.title}"\n\n{said}.\n'


async def revert_pull(hub: Hub, repo: Repo, number: int, login: str) -> int:
    """Open the revert of merged PR `number` as `login`; the new pull request's number."""
    item = repo.issues.get(number)
    pr = item.pull if item is not None else None
    if item is None or pr is None or not pr.merged or not pr.merge_sha:
        raise RevertError(f"#{number} is not a merged pull request")
    branches = await gitstore.branches(repo.path)
    base_tip = branches[pr.base_ref]
    parents = await gitmerge.parents(repo.path, pr.merge_sha)
    # Undo the merge on the base as it is now: the change from the merge back to its first
    # parent, applied to the base, takes back exactly what the merge brought.
    tree = await gitmerge.three_way_tree(
        repo.path, base=pr.merge_sha, ours=base_tip, theirs=parents[0]
    )
    if tree is None:
        raise RevertError(f"#{number} cannot be reverted cleanly")
    sha = await gitmerge.commit(
        repo.path,
        tree=tree,
        parents=[base_tip],
        message=_message(item, pr.merge_sha, parents),
        author=login,
    )
    branch = f"revert-{number}-{pr.head_ref}"
    if not await gitmerge.move_branch(repo.path, branch, sha, ""):
        raise RevertError(f"the branch {branch} exists already")
    now = time.time()
    revert = Issue(
        id=hub.next_id(),
        number=repo.next_number(),
        title=f'Revert "{item.title}"',
        body=f"Reverts {repo.full_name}#{number}",
        user=login,
        created_at=now,
        updated_at=now,
        app_id=None,
        pull_id=hub.next_id(),
        pull=Pull(
            head_ref=branch, head_sha=sha, base_ref=pr.base_ref, base_sha=base_tip, draft=False
        ),
    )
    repo.issues[revert.number] = revert
    await pushes.emit_pull(hub, repo, revert, "opened", login)
    return revert.number


async def revert_route(request: Request) -> Response:
    hub = hub_of(request)
    p = request.path_params
    repo = hub.repo(p["owner"], p["repo"])
    try:
        login = str((await request.json())["login"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"message": "login is required"}, status_code=400)
    if repo is None or login.lower() not in hub.accounts:
        return JSONResponse({"message": "Not Found"}, status_code=404)
    try:
        number = await revert_pull(hub, repo, int(p["number"]), login)
    except RevertError as exc:
        return JSONResponse({"message": str(exc)}, status_code=422)
    return JSONResponse({"number": number}, status_code=201)


ADMIN_ROUTES = [
    Route(
        "/_localhub/repos/{owner}/{repo}/pulls/{number:int}/revert", revert_route, methods=["POST"]
    ),
]
