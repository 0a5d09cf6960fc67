"""Pull request routes: open, list, read, edit, changed files and review comments."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localhub import forks, gitstore, pushes, shapes_pulls
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
    require_write,
)
from bot.localhub.routes_commits import files_shape
from bot.localhub.routes_issues import apply_edit, require_participant
from bot.localhub.state import Issue, Pull, Repo, ReviewComment


def _pull_or_404(repo: Repo, number: int) -> Issue:
    item = repo.issues.get(number)
    if item is None or item.pull is None:
        raise not_found()
    return item


def _head_owner(repo: Repo, item: Issue) -> str:
    fork = item.pull.head_repo if item.pull is not None else None
    return fork.split("/", 1)[0] if fork else repo.owner


def _custom(message: str) -> ApiError:
    return ApiError(
        422,
        "Validation Failed",
        [{"resource": "PullRequest", "code": "custom", "message": message}],
    )


async def create_pull(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    login = require_participant(request, repo, "pull_requests")
    body = await body_json(request)
    for key in ("title", "head", "base"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise invalid("PullRequest", key)
    head_owner, _, head_ref = str(body["head"]).rpartition(":")
    hub = hub_of(request)
    base_ref = str(body["base"])
    branches = await gitstore.branches(repo.path)
    if base_ref not in branches:
        raise invalid("PullRequest", "base", "invalid")
    fork: Repo | None = None
    if head_owner and head_owner.lower() != repo.owner.lower():
        found = await forks.head_from_fork(hub, repo, head_owner, head_ref)
        if found is None:
            raise invalid("PullRequest", "head", "invalid")
        fork, head_sha = found
    elif head_ref in branches:
        head_sha = branches[head_ref]
    else:
        raise invalid("PullRequest", "head", "invalid")
    head_repo = fork.full_name if fork is not None else None
    for other in repo.issues.values():
        pr = other.pull
        same = (pr.head_ref, pr.base_ref, pr.head_repo) if pr else None
        if other.state == "open" and same == (head_ref, base_ref, head_repo):
            owner = fork.owner if fork is not None else repo.owner
            raise _custom(f"A pull request already exists for {owner}:{head_ref}.")
    if await gitstore.ahead(repo.path, branches[base_ref], head_sha) == 0:
        raise _custom(f"No commits between {base_ref} and {head_ref}")
    now = time.time()
    item = Issue(
        id=hub.next_id(), number=repo.next_number(), title=str(body["title"]),
        body=body.get("body"), user=login, created_at=now, updated_at=now,
        app_id=principal(request).app_id, pull_id=hub.next_id(),
        pull=Pull(head_ref=head_ref, head_sha=head_sha, base_ref=base_ref,
                  base_sha=branches[base_ref], draft=bool(body.get("draft", False)),
                  head_repo=head_repo),
    )  # fmt: skip
    repo.issues[item.number] = item
    if fork is not None:
        await pushes.keep_head(repo, item)
    stats = await pushes.pull_stats(repo, item)
    await pushes.emit_pull(hub, repo, item, "opened", login)
    return json_response(request, shapes_pulls.pull(hub, repo, item, stats), status=201)


async def list_pulls(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    q = request.query_params
    state = q.get("state", "open")
    head = q.get("head")
    items = [
        i
        for i in sorted(repo.issues.values(), key=lambda i: i.number, reverse=True)
        if i.pull is not None
        and state in {"all", i.state}
        and (head is None or f"{_head_owner(repo, i)}:{i.pull.head_ref}".lower() == head.lower())
        and (q.get("base") is None or i.pull.base_ref == q.get("base"))
    ]
    if q.get("direction") == "asc":
        items.reverse()
    page, links = paginate(request, items)
    hub = hub_of(request)
    return json_response(request, [shapes_pulls.pull(hub, repo, i) for i in page], headers=links)


async def get_pull(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    item = _pull_or_404(repo, request.path_params["number"])
    stats = await pushes.pull_stats(repo, item)
    return json_response(request, shapes_pulls.pull(hub_of(request), repo, item, stats))


async def update_pull(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    item = _pull_or_404(repo, request.path_params["number"])
    login = require_participant(request, repo, "pull_requests")
    if login.lower() != item.user.lower():
        require_write(request, repo, "pull_requests")
    hub = hub_of(request)
    await apply_edit(hub, repo, item, await body_json(request), login, kind="PullRequest")
    stats = await pushes.pull_stats(repo, item)
    return json_response(request, shapes_pulls.pull(hub, repo, item, stats))


async def list_files(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    item = _pull_or_404(repo, request.path_params["number"])
    assert item.pull is not None
    hub = hub_of(request)
    changes = await gitstore.diff(repo.path, item.pull.base_sha, item.pull.head_sha)
    entries = files_shape(hub, repo, item.pull.head_sha, changes)
    page, links = paginate(request, entries)
    return json_response(request, page, headers=links)


async def list_review_comments(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    item = _pull_or_404(repo, request.path_params["number"])
    hub = hub_of(request)
    mine = [c for c in repo.review_comments.values() if c.number == item.number]
    page, links = paginate(request, mine)
    data = [shapes_pulls.review_comment(hub, repo, c) for c in page]
    return json_response(request, data, headers=links)


async def get_review_comment(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    found = repo.review_comments.get(request.path_params["comment_id"])
    if found is None:
        raise not_found()
    return json_response(request, shapes_pulls.review_comment(hub_of(request), repo, found))


async def create_review_comment(request: Request) -> Response:
    """An inline comment on a line of the PR's diff (or a reply with `in_reply_to`)."""
    repo = repo_or_404(request, "pull_requests")
    item = _pull_or_404(repo, request.path_params["number"])
    assert item.pull is not None
    login = require_participant(request, repo, "pull_requests")
    body = await body_json(request)
    hub = hub_of(request)
    text = body.get("body")
    if not isinstance(text, str) or not text:
        raise invalid("PullRequestReviewComment", "body")
    parent = repo.review_comments.get(int(body["in_reply_to"])) if body.get("in_reply_to") else None
    if parent is not None:
        path, line, side, hunk = parent.path, parent.line, parent.side, parent.diff_hunk
    else:
        path, line = str(body.get("path")), body.get("line") or body.get("position")
        side = str(body.get("side") or "RIGHT")
        changes = await gitstore.diff(repo.path, item.pull.base_sha, item.pull.head_sha)
        change = next((c for c in changes if c.filename == path), None)
        if change is None or not isinstance(line, int):
            raise _custom("pull_request_review_thread.path could not be resolved")
        hunk = change.patch
    now = time.time()
    comment = ReviewComment(
        id=hub.next_id(), number=item.number, user=login, body=text, path=str(path), line=line,
        side=side, commit_id=str(body.get("commit_id") or item.pull.head_sha), diff_hunk=hunk,
        created_at=now, updated_at=now, in_reply_to=parent.id if parent else None,
    )  # fmt: skip
    repo.review_comments[comment.id] = comment
    fields = {
        "action": "created",
        "comment": shapes_pulls.review_comment(hub, repo, comment),
        "pull_request": shapes_pulls.pull(hub, repo, item),
    }
    hub.emit("pull_request_review_comment", repo, login, fields)
    return json_response(request, fields["comment"], status=201)


_R = "/repos/{owner}/{repo}/pulls"
ROUTES = [
    Route(_R, list_pulls),
    Route(_R, create_pull, methods=["POST"]),
    Route(_R + "/{number:int}", get_pull),
    Route(_R + "/{number:int}", update_pull, methods=["PATCH"]),
    Route(_R + "/{number:int}/files", list_files),
    Route(_R + "/{number:int}/comments", list_review_comments),
    Route(_R + "/{number:int}/comments", create_review_comment, methods=["POST"]),
    Route(_R + "/comments/{comment_id:int}", get_review_comment),
]
