"""Issue comments and reactions (on issues, issue comments and PR review comments)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localhub import shapes, shapes_issues
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
from bot.localhub.hub import Hub
from bot.localhub.routes_issues import area, issue_or_404, require_participant
from bot.localhub.state import REACTIONS, Comment, Issue, Reaction, Repo


def _comment_or_404(repo: Repo, ident: int) -> Comment:
    found = repo.comments.get(ident)
    if found is None:
        raise not_found()
    return found


def _emit(hub: Hub, repo: Repo, item: Comment, action: str, sender: str, **extra: Any) -> None:
    issue = repo.issues[item.number]
    hub.emit(
        "issue_comment",
        repo,
        sender,
        {
            "action": action,
            "issue": shapes_issues.issue(hub, repo, issue),
            "comment": shapes_issues.comment(hub, repo, item),
            **extra,
        },
    )


async def list_comments(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    item = issue_or_404(repo, request.path_params["number"])
    hub = hub_of(request)
    page, links = paginate(request, [repo.comments[c] for c in item.comments])
    data = [shapes_issues.comment(hub, repo, c) for c in page]
    return json_response(request, data, headers=links)


async def create_comment(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    item = issue_or_404(repo, request.path_params["number"])
    login = require_participant(request, repo, area(item))
    text = (await body_json(request)).get("body")
    if not isinstance(text, str) or not text:
        raise invalid("IssueComment", "body")
    hub = hub_of(request)
    now = time.time()
    comment = Comment(
        id=hub.next_id(), number=item.number, user=login, body=text, created_at=now,
        updated_at=now, app_id=principal(request).app_id,
    )  # fmt: skip
    repo.comments[comment.id] = comment
    item.comments.append(comment.id)
    item.updated_at = now
    _emit(hub, repo, comment, "created", login)
    return json_response(request, shapes_issues.comment(hub, repo, comment), status=201)


async def get_comment(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    comment = _comment_or_404(repo, request.path_params["comment_id"])
    return json_response(request, shapes_issues.comment(hub_of(request), repo, comment))


def _require_author_or_write(request: Request, repo: Repo, comment: Comment) -> str:
    item = repo.issues[comment.number]
    login = require_participant(request, repo, area(item))
    if login.lower() != comment.user.lower():
        require_write(request, repo, area(item))
    return login


async def update_comment(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    comment = _comment_or_404(repo, request.path_params["comment_id"])
    login = _require_author_or_write(request, repo, comment)
    text = (await body_json(request)).get("body")
    if not isinstance(text, str) or not text:
        raise invalid("IssueComment", "body")
    hub = hub_of(request)
    if text != comment.body:
        previous, comment.body = comment.body, text
        comment.updated_at = time.time()
        _emit(hub, repo, comment, "edited", login, changes={"body": {"from": previous}})
    return json_response(request, shapes_issues.comment(hub, repo, comment))


async def delete_comment(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    comment = _comment_or_404(repo, request.path_params["comment_id"])
    login = _require_author_or_write(request, repo, comment)
    hub = hub_of(request)
    _emit(hub, repo, comment, "deleted", login)
    repo.issues[comment.number].comments.remove(comment.id)
    del repo.comments[comment.id]
    return Response(status_code=204)


def _target(request: Request, repo: Repo) -> tuple[list[Reaction], Issue]:
    """The reaction list the path names, and the issue or PR it belongs to."""
    params = request.path_params
    if "number" in params:
        item = issue_or_404(repo, params["number"])
        return item.reactions, item
    if "review_comment_id" in params:
        review = repo.review_comments.get(params["review_comment_id"])
        if review is None:
            raise not_found()
        return review.reactions, repo.issues[review.number]
    comment = _comment_or_404(repo, params["comment_id"])
    return comment.reactions, repo.issues[comment.number]


async def create_reaction(request: Request) -> Response:
    """201 for a new reaction, 200 with the existing one when this user already reacted so."""
    repo = repo_or_404(request, "issues")
    reactions, item = _target(request, repo)
    login = require_participant(request, repo, area(item))
    content = (await body_json(request)).get("content")
    if content not in REACTIONS:
        raise invalid("Reaction", "content", "invalid")
    hub = hub_of(request)
    for existing in reactions:
        if existing.user.lower() == login.lower() and existing.content == content:
            return json_response(request, shapes.reaction(hub, existing), status=200)
    reaction = Reaction(id=hub.next_id(), user=login, content=content, created_at=time.time())
    reactions.append(reaction)
    return json_response(request, shapes.reaction(hub, reaction), status=201)


async def list_reactions(request: Request) -> Response:
    repo = repo_or_404(request, "issues")
    reactions, _ = _target(request, repo)
    content = request.query_params.get("content")
    if content is not None and content not in REACTIONS:
        raise ApiError(422, "Validation Failed")
    hub = hub_of(request)
    chosen = [r for r in reactions if content is None or r.content == content]
    page, links = paginate(request, chosen)
    return json_response(request, [shapes.reaction(hub, r) for r in page], headers=links)


_R = "/repos/{owner}/{repo}"
ROUTES = [
    Route(_R + "/issues/{number:int}/comments", list_comments),
    Route(_R + "/issues/{number:int}/comments", create_comment, methods=["POST"]),
    Route(_R + "/issues/comments/{comment_id:int}", get_comment),
    Route(_R + "/issues/comments/{comment_id:int}", update_comment, methods=["PATCH"]),
    Route(_R + "/issues/comments/{comment_id:int}", delete_comment, methods=["DELETE"]),
    Route(_R + "/issues/{number:int}/reactions", list_reactions),
    Route(_R + "/issues/{number:int}/reactions", create_reaction, methods=["POST"]),
    Route(_R + "/issues/comments/{comment_id:int}/reactions", list_reactions),
    Route(_R + "/issues/comments/{comment_id:int}/reactions", create_reaction, methods=["POST"]),
    Route(_R + "/pulls/comments/{review_comment_id:int}/reactions", list_reactions),
    Route(
        _R + "/pulls/comments/{review_comment_id:int}/reactions",
        create_reaction,
        methods=["POST"],
    ),
]
