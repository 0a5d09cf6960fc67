"""HTTP plumbing shared by the REST routes: errors, ETags, pagination, auth and rate limits."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.localhub import auth
from bot.localhub.state import ANONYMOUS, Principal

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from bot.localhub.hub import Hub, RateWindow
    from bot.localhub.state import Repo

API_PREFIX = "/api/v3"
DOCS = "https://docs.github.com/rest"
# Not counted against the primary rate limit, as on GitHub.
UNCOUNTED = {f"{API_PREFIX}/rate_limit"}
PRINCIPAL = "localhub.principal"
_CONVERTOR = re.compile(r":\w+}")


class ApiError(Exception):
    """An error answer in GitHub's shape: `{"message", "documentation_url", "errors"?}`."""

    def __init__(
        self, status: int, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def error_response(
    status: int, message: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors:
        body["errors"] = errors
    body["status"] = str(status)
    return JSONResponse(body, status_code=status)


async def on_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.errors)


async def on_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Not Found" if exc.status_code == 404 else str(exc.detail)
    return error_response(exc.status_code, message)


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def principal(request: Request) -> Principal:
    who: Principal = request.scope.get(PRINCIPAL, ANONYMOUS)
    return who


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def repo_or_404(request: Request, resource: str = "metadata") -> Repo:
    """The path's repository, if the caller may see it (GitHub hides private repos as 404)."""
    hub = hub_of(request)
    repo = hub.repo(request.path_params["owner"], request.path_params["repo"])
    if repo is None or hub.access(principal(request), repo, resource) == "none":
        raise not_found()
    return repo


def require_write(request: Request, repo: Repo, resource: str) -> None:
    who = principal(request)
    if who.kind == "anonymous":
        raise ApiError(401, "Requires authentication")
    if hub_of(request).access(who, repo, resource) != "write":
        message = (
            "Resource not accessible by integration"
            if who.token is not None
            else "Must have push access to this repository"
        )
        raise ApiError(403, message)


def require_user(request: Request) -> Principal:
    who = principal(request)
    if who.kind == "anonymous":
        raise ApiError(401, "Requires authentication")
    return who


async def body_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "Problems parsing JSON") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Problems parsing JSON")
    return data


def invalid(resource: str, field: str, code: str = "missing_field") -> ApiError:
    return ApiError(
        422, "Validation Failed", [{"resource": resource, "field": field, "code": code}]
    )


def json_response(
    request: Request,
    data: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media: str = "application/json; charset=utf-8",
    raw: bytes | None = None,
) -> Response:
    """A JSON (or raw) answer; a GET carries an ETag per representation and honours
    `If-None-Match` with an empty 304, as GitHub does."""
    body = raw if raw is not None else json.dumps(data).encode()
    headers = dict(headers or {})
    if request.method == "GET" and status == 200:
        accept = request.headers.get("accept", "")
        etag = 'W/"' + hashlib.sha256(accept.encode() + b"\0" + body).hexdigest()[:40] + '"'
        headers["ETag"] = etag
        headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
        headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        sent = {t.strip() for t in request.headers.get("if-none-match", "").split(",")}
        if etag in sent or etag.removeprefix("W/") in sent:
            return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, headers=headers, media_type=media)


def paginate(request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` (`per_page` <= 100, default 30) and GitHub's `Link` header."""
    try:
        per_page = max(1, min(100, int(request.query_params.get("per_page", "30"))))
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError as exc:
        raise ApiError(400, "Invalid pagination parameters") from exc
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    params = dict(request.query_params)
    base = str(request.url.replace(query=""))

    def link(n: int, rel: str) -> str:
        return f'<{base}?{urlencode({**params, "per_page": per_page, "page": n})}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return chunk, ({"Link": ", ".join(links)} if links else {})


class ApiMiddleware:
    """Faults first, then (for the REST API) authentication, rate-limit headers and call stats."""

    def __init__(self, app: ASGIApp, *, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path: str = scope["path"]
        fault = self.hub.take_fault(request.method, path)
        if fault is not None:
            await asyncio.sleep(fault.delay_s)
            if fault.status is not None:
                resp = error_response(fault.status, "Server Error (injected by localhub)")
                await resp(scope, receive, send)
                return
        if not path.startswith(API_PREFIX + "/") and path != API_PREFIX:
            await self.app(scope, receive, send)
            return
        try:
            who = auth.from_authorization(self.hub, request.headers.get("authorization"))
        except auth.AuthError as exc:
            await error_response(401, str(exc))(scope, receive, send)
            return
        scope[PRINCIPAL] = who
        counted_path = path not in UNCOUNTED and who.kind != "anonymous"
        window = self.hub.rate(who.rate_key)
        if counted_path and window.used >= window.limit:
            what = (
                f"installation ID {who.installation_id}"
                if who.installation_id is not None
                else who.rate_key
            )
            resp = error_response(403, f"API rate limit exceeded for {what}.")
            resp.headers.update(self._rate_headers(window))
            await resp(scope, receive, send)
            return
        version = request.headers.get("x-github-api-version")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                not_modified = status == 304
                counted = counted_path and not not_modified
                if counted:
                    window.used += 1
                route = scope.get("route")
                template = getattr(route, "path", None) or path.removeprefix(API_PREFIX)
                template = _CONVERTOR.sub(
                    "}", template
                )  # {path:path} -> {path}, as in GitHub's docs
                self.hub.record_call(
                    who.installation_id,
                    f"{request.method} {template}",
                    counted=counted,
                    not_modified=not_modified,
                )
                extra = {
                    "x-github-request-id": uuid.uuid4().hex[:20].upper(),
                    "x-github-media-type": "github.v3; format=json",
                }
                if version:
                    extra["x-github-api-version-selected"] = version
                if who.kind != "anonymous":
                    extra |= self._rate_headers(window)
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in extra.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)

    @staticmethod
    def _rate_headers(window: RateWindow) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(window.limit),
            "x-ratelimit-remaining": str(max(0, window.limit - window.used)),
            "x-ratelimit-used": str(window.used),
            "x-ratelimit-reset": str(int(window.reset)),
            "x-ratelimit-resource": "core",
        }
