"""Forks, as GitHub has them: `POST /repos/{owner}/{repo}/forks` makes a copy under the caller,
a pull request may take its head from a fork (`head: "login:branch"`), and the base repository
keeps the head's commits as `refs/pull/<n>/head`, where anyone who can read the base fetches
them (the fork's own branches stay the fork's)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.routing import Route

from bot.localhub import gitstore, shapes
from bot.localhub.http import (
    ApiError,
    body_json,
    hub_of,
    json_response,
    repo_or_404,
    require_user,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from bot.localhub.hub import Hub
    from bot.localhub.state import Repo


async def create_fork(request: Request) -> Response:
    """A copy of the repository under the caller (or `organization`), answered 202 like
    GitHub (there the copy finishes in the background; here it is done at once)."""
    parent = repo_or_404(request)
    who = require_user(request)
    body = await body_json(request)
    owner = str(body.get("organization") or who.login)
    name = str(body.get("name") or parent.name)
    hub = hub_of(request)
    existing = hub.repo(owner, name)
    if existing is not None and existing.parent == parent.full_name:
        return json_response(request, shapes.repository(hub, existing), status=202)
    if existing is not None:
        raise ApiError(422, f"{owner}/{name} already exists")
    fork = await hub.create_repo(owner, name, default_branch=parent.default_branch)
    fork.parent = parent.full_name
    fork.description = parent.description
    await gitstore.git(
        fork.path, "fetch", "--quiet", str(parent.path), "+refs/heads/*:refs/heads/*"
    )
    fork.pushed_at = time.time()
    return json_response(request, shapes.repository(hub, fork), status=202)


def fork_of(hub: Hub, repo: Repo, owner: str) -> Repo | None:
    """`owner`'s fork of `repo`, if they have one."""
    for candidate in hub.repos.values():
        if candidate.parent == repo.full_name and candidate.owner.lower() == owner.lower():
            return candidate
    return None


async def head_from_fork(hub: Hub, repo: Repo, owner: str, ref: str) -> tuple[Repo, str] | None:
    """The fork and the commit a pull request's head `owner:ref` names, its objects fetched into
    `repo` (so diffs and merges are computed there); None when there is no such branch."""
    fork = fork_of(hub, repo, owner)
    if fork is None:
        return None
    sha = (await gitstore.branches(fork.path)).get(ref)
    if sha is None:
        return None
    await gitstore.git(repo.path, "fetch", "--quiet", str(fork.path), sha)
    return fork, sha


ROUTES = [Route("/repos/{owner}/{repo}/forks", create_fork, methods=["POST"])]
