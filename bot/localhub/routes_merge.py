"""Merging a pull request (PUT .../pulls/{n}/merge) and its reviews (.../pulls/{n}/reviews), with
the `pull_request.closed` and `pull_request_review.submitted` webhooks GitHub sends."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localhub import gitmerge, gitstore, pushes, shapes, shapes_pulls
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
from bot.localhub.routes_issues import require_participant
from bot.localhub.state import Issue, Repo, Review, iso

NOT_MERGEABLE = "Pull Request is not mergeable"
# The review events a REST call submits, and the state GitHub gives the review.
REVIEW_EVENTS = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}


def pull_or_404(repo: Repo, number: int) -> Issue:
    item = repo.issues.get(number)
    if item is None or item.pull is None:
        raise not_found()
    return item


def _messages(item: Issue, body: dict[str, Any], method: str, repo: Repo) -> str:
    pr = item.pull
    assert pr is not None
    if method == "squash":
        title = body.get("commit_title") or f"{item.title} (#{item.number})"
        text = body.get("commit_message") or ""
    else:
        title = body.get("commit_title") or (
            f"Merge pull request #{item.number} from {repo.owner}/{pr.head_ref}"
        )
        text = body.get("commit_message") or item.title
    return f"{title}\n\n{text}".rstrip() + "\n"


async def merge_pull(request: Request) -> Response:
    """A merge commit or a squash onto the base, made only from the head the caller saw."""
    repo = repo_or_404(request, "pull_requests")
    item = pull_or_404(repo, request.path_params["number"])
    pr = item.pull
    assert pr is not None
    require_write(request, repo, "contents")
    login = principal(request).login or ""
    body = await body_json(request)
    method = str(body.get("merge_method") or "merge")
    if method not in {"merge", "squash", "rebase"}:
        raise invalid("PullRequest", "merge_method", "invalid")
    if method == "rebase":
        raise ApiError(405, "Rebase merges are not allowed on this repository.")
    if item.state != "open" or pr.draft:
        raise ApiError(405, NOT_MERGEABLE)
    if body.get("sha") and body["sha"] != pr.head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    before = await gitstore.branches(repo.path)
    base_tip = before.get(pr.base_ref, pr.base_sha)
    tree = await gitmerge.merged_tree(repo.path, base_tip, pr.head_sha)
    if tree is None:
        raise ApiError(405, NOT_MERGEABLE)
    parents = [base_tip, pr.head_sha] if method == "merge" else [base_tip]
    message = _messages(item, body, method, repo)
    sha = await gitmerge.commit(
        repo.path, tree=tree, parents=parents, message=message, author=login
    )
    if not await gitmerge.move_branch(repo.path, pr.base_ref, sha, base_tip):
        raise ApiError(409, "Base branch was modified. Review and try the merge again.")
    now = time.time()
    pr.merged, pr.merged_at, pr.merged_by, pr.merge_sha = True, now, login, sha
    item.state, item.closed_at, item.updated_at = "closed", now, now
    hub = hub_of(request)
    await pushes.after_push(hub, repo, login, before)  # other PRs on the base follow it
    await pushes.emit_pull(hub, repo, item, "closed", login)
    return json_response(
        request, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
    )


def review_json(hub: Hub, repo: Repo, review: Review, *, webhook: bool = False) -> dict[str, Any]:
    """A review as the REST API shows it; in a webhook its state is lower case."""
    pull_api = f"{shapes.repo_api(hub, repo)}/pulls/{review.number}"
    html = f"{shapes.repo_html(hub, repo)}/pull/{review.number}#pullrequestreview-{review.id}"
    return {
        "id": review.id,
        "node_id": shapes.node_id("PullRequestReview", review.id),
        "user": shapes.user(hub, review.user),
        "body": review.body,
        "state": review.state.lower() if webhook else review.state,
        "html_url": html,
        "pull_request_url": pull_api,
        "author_association": hub.association(repo, review.user),
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_api}},
        "submitted_at": iso(review.submitted_at),
        "commit_id": review.commit_id,
    }


async def create_review(request: Request) -> Response:
    """A submitted review (GitHub's pending reviews are not emulated: `event` is required)."""
    repo = repo_or_404(request, "pull_requests")
    item = pull_or_404(repo, request.path_params["number"])
    assert item.pull is not None
    login = require_participant(request, repo, "pull_requests")
    body = await body_json(request)
    state = REVIEW_EVENTS.get(str(body.get("event") or ""))
    if state is None:
        raise invalid("PullRequestReview", "event")
    text = body.get("body")
    if state != "APPROVED" and not text:
        raise ApiError(422, f"Review body is required for {state}")
    if state != "COMMENTED" and login.lower() == item.user.lower():
        raise ApiError(422, "Can not approve your own pull request")
    hub = hub_of(request)
    review = Review(
        id=hub.next_id(),
        number=item.number,
        user=login,
        body=text,
        state=state,
        commit_id=str(body.get("commit_id") or item.pull.head_sha),
        submitted_at=time.time(),
    )
    repo.reviews[review.id] = review
    fields = {
        "action": "submitted",
        "review": review_json(hub, repo, review, webhook=True),
        "pull_request": shapes_pulls.pull(hub, repo, item),
    }
    hub.emit("pull_request_review", repo, login, fields)
    return json_response(request, review_json(hub, repo, review))


async def list_reviews(request: Request) -> Response:
    repo = repo_or_404(request, "pull_requests")
    item = pull_or_404(repo, request.path_params["number"])
    hub = hub_of(request)
    mine = sorted((r for r in repo.reviews.values() if r.number == item.number), key=lambda r: r.id)
    page, links = paginate(request, mine)
    return json_response(request, [review_json(hub, repo, r) for r in page], headers=links)


_R = "/repos/{owner}/{repo}/pulls/{number:int}"
ROUTES = [
    Route(_R + "/merge", merge_pull, methods=["PUT"]),
    Route(_R + "/reviews", list_reviews),
    Route(_R + "/reviews", create_review, methods=["POST"]),
]
