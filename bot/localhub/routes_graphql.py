"""`POST /api/graphql`: the two mutations GitHub offers no REST call for, and nothing else.

A pull request's draft state cannot be changed through REST (`PATCH /pulls/{n}` takes no
`draft`), so Baton uses `markPullRequestReadyForReview` and `convertPullRequestToDraft`. This is
no GraphQL engine: a document naming one of those mutations is answered with the pull request's
`id`, `number` and `isDraft` (what Baton selects); any other document gets GraphQL's error shape.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.localhub import auth, pushes
from bot.localhub.http import hub_of
from bot.localhub.shapes import node_id

if TYPE_CHECKING:
    from starlette.requests import Request

    from bot.localhub.hub import Hub
    from bot.localhub.state import Issue, Principal, Repo

GRAPHQL_PATH = "/api/graphql"
# mutation name -> (the draft state it leaves, the `pull_request` webhook action it sends)
MUTATIONS = {
    "markPullRequestReadyForReview": (False, "ready_for_review"),
    "convertPullRequestToDraft": (True, "converted_to_draft"),
}
_MUTATION = re.compile(r"\bmutation\b[^{]*\{\s*(\w+)\s*\(", re.DOTALL)
_LITERAL_ID = re.compile(r'pullRequestId\s*:\s*"([^"]+)"')
_VARIABLE_ID = re.compile(r"pullRequestId\s*:\s*\$(\w+)")


def _errors(message: str, kind: str = "INVALID") -> Response:
    return JSONResponse({"errors": [{"type": kind, "message": message}]})


def _pull_of(hub: Hub, ident: str) -> tuple[Repo, Issue] | None:
    """The pull request whose REST `node_id` is `ident`."""
    for repo in hub.repos.values():
        for item in repo.issues.values():
            if item.pull is not None and node_id("PullRequest", item.pull_id) == ident:
                return repo, item
    return None


def _pull_request_id(query: str, variables: dict[str, Any]) -> str | None:
    literal = _LITERAL_ID.search(query)
    if literal:
        return literal.group(1)
    variable = _VARIABLE_ID.search(query)
    value = variables.get(variable.group(1)) if variable else None
    if value is None and isinstance(variables.get("input"), dict):
        value = variables["input"].get("pullRequestId")
    return value if isinstance(value, str) else None


async def graphql(request: Request) -> Response:
    hub = hub_of(request)
    try:
        who: Principal = auth.from_authorization(hub, request.headers.get("authorization"))
    except auth.AuthError as exc:
        return JSONResponse({"message": str(exc)}, status_code=401)
    if who.kind == "anonymous":
        message = "This endpoint requires you to be authenticated."
        return JSONResponse({"message": message}, status_code=401)
    try:
        body = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"message": "Problems parsing JSON"}, status_code=400)
    query = body.get("query") if isinstance(body, dict) else None
    variables = body.get("variables") or {} if isinstance(body, dict) else {}
    if not isinstance(query, str) or not isinstance(variables, dict):
        return _errors("A query attribute must be specified and must be a string.")
    found = _MUTATION.search(query)
    if found is None or found.group(1) not in MUTATIONS:
        return _errors(f"localhub answers only these mutations: {', '.join(MUTATIONS)}")
    name = found.group(1)
    ident = _pull_request_id(query, variables)
    target = _pull_of(hub, ident) if ident else None
    if target is None:
        return _errors(f"Could not resolve to a node with the global id of '{ident}'", "NOT_FOUND")
    repo, item = target
    if hub.access(who, repo, "pull_requests") != "write":
        return _errors("Resource not accessible by integration", "FORBIDDEN")
    assert item.pull is not None
    if item.state != "open":
        return _errors("Pull request is closed", "UNPROCESSABLE")
    draft, action = MUTATIONS[name]
    if item.pull.draft != draft:
        item.pull.draft = draft
        item.updated_at = time.time()
        await pushes.emit_pull(hub, repo, item, action, who.login or "")
    result = {"id": ident, "number": item.number, "isDraft": item.pull.draft}
    return JSONResponse({"data": {name: {"pullRequest": result}}})


ROUTES = [Route(GRAPHQL_PATH, graphql, methods=["POST"])]
