"""Check runs: created and updated by apps only, listed per commit."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localhub import gitstore, shapes, shapes_checks, suites
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
from bot.localhub.state import CheckRun, Repo

STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {"action_required", "cancelled", "failure", "neutral", "success", "skipped",
               "stale", "timed_out"}  # fmt: skip
MAX_OUTPUT = 65535


def _app_id(request: Request, repo: Repo) -> int:
    who = principal(request)
    if who.token is None or who.app_id is None:
        raise ApiError(403, "You must authenticate via a GitHub App.")
    require_write(request, repo, "checks")
    return who.app_id


def _ts(value: Any, default: float | None) -> float | None:
    if not value:
        return default
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError as exc:
        raise invalid("CheckRun", "started_at", "invalid") from exc


def _apply(run: CheckRun, body: dict[str, Any]) -> None:
    """Fold a create/update body into the run, with GitHub's rules for status and conclusion."""
    for key in ("name", "external_id", "details_url"):
        if key in body:
            setattr(run, key, body[key])
    if "status" in body:
        if body["status"] not in STATUSES:
            raise invalid("CheckRun", "status", "invalid")
        run.status = body["status"]
    if body.get("conclusion") is not None:
        if body["conclusion"] not in CONCLUSIONS:
            raise invalid("CheckRun", "conclusion", "invalid")
        run.conclusion = body["conclusion"]
        run.status = "completed"
    if run.status == "completed" and run.conclusion is None:
        raise invalid("CheckRun", "conclusion")
    if "started_at" in body:
        run.started_at = _ts(body["started_at"], run.started_at) or run.started_at
    if run.status == "completed":
        run.completed_at = _ts(body.get("completed_at"), run.completed_at or time.time())
    output = body.get("output")
    if isinstance(output, dict):
        for key in ("title", "summary", "text"):
            if key in output:
                value = output[key]
                if isinstance(value, str) and len(value) > MAX_OUTPUT:
                    raise invalid("CheckRun", f"output.{key}", "too_long")
                run.output[key] = value
        run.annotations += _annotations(output.get("annotations"))


ANNOTATION_LEVELS = frozenset({"notice", "warning", "failure"})
MAX_ANNOTATIONS = 50  # per request, as GitHub limits them


def _annotations(value: Any) -> list[dict[str, Any]]:
    """Annotations as GitHub accepts them: path, lines, level and message required."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ANNOTATIONS:
        raise invalid("CheckRun", "output.annotations", "invalid")
    out = []
    for item in value:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("path"), str)
            and isinstance(item.get("start_line"), int)
            and isinstance(item.get("end_line"), int)
            and item.get("annotation_level") in ANNOTATION_LEVELS
            and isinstance(item.get("message"), str)
        )
        if not ok:
            raise invalid("CheckRun", "output.annotations", "missing_field")
        out.append(dict(item))
    return out


async def create_check_run(request: Request) -> Response:
    repo = repo_or_404(request, "checks")
    app_id = _app_id(request, repo)
    body = await body_json(request)
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise invalid("CheckRun", "name")
    head_sha = body.get("head_sha")
    if not isinstance(head_sha, str) or await gitstore.resolve(repo.path, head_sha) != head_sha:
        raise ApiError(422, f"No commit found for SHA: {head_sha}")
    hub = hub_of(request)
    run = CheckRun(
        id=hub.next_id(), app_id=app_id, name=body["name"], head_sha=head_sha, status="queued",
        conclusion=None, started_at=time.time(), completed_at=None, external_id=None,
        details_url=None,
    )  # fmt: skip
    _apply(run, body)
    repo.check_runs[run.id] = run
    await suites.after_change(hub, repo, run)
    return json_response(request, shapes_checks.check_run(hub, repo, run), status=201)


def _run_or_404(repo: Repo, ident: int) -> CheckRun:
    run = repo.check_runs.get(ident)
    if run is None:
        raise not_found()
    return run


async def update_check_run(request: Request) -> Response:
    repo = repo_or_404(request, "checks")
    run = _run_or_404(repo, request.path_params["check_run_id"])
    if _app_id(request, repo) != run.app_id:
        raise ApiError(403, "Invalid app_id: a check run can only be updated by its app")
    _apply(run, await body_json(request))
    await suites.after_change(hub_of(request), repo, run)
    return json_response(request, shapes_checks.check_run(hub_of(request), repo, run))


async def get_check_run(request: Request) -> Response:
    repo = repo_or_404(request, "checks")
    run = _run_or_404(repo, request.path_params["check_run_id"])
    return json_response(request, shapes_checks.check_run(hub_of(request), repo, run))


async def list_annotations(request: Request) -> Response:
    repo = repo_or_404(request, "checks")
    run = _run_or_404(repo, request.path_params["check_run_id"])
    page, links = paginate(request, run.annotations)
    blob = f"{shapes.repo_html(hub_of(request), repo)}/blob/{run.head_sha}"
    data = [shapes_checks.annotation(a, blob) for a in page]
    return json_response(request, data, headers=links)


async def list_for_ref(request: Request) -> Response:
    repo = repo_or_404(request, "checks")
    sha = await gitstore.resolve(repo.path, request.path_params["ref"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {request.path_params['ref']}")
    q = request.query_params
    runs = [
        r
        for r in sorted(repo.check_runs.values(), key=lambda r: r.id, reverse=True)
        if r.head_sha == sha
        and (q.get("check_name") is None or r.name == q.get("check_name"))
        and (q.get("status") is None or r.status == q.get("status"))
    ]
    page, links = paginate(request, runs)
    hub = hub_of(request)
    body = {
        "total_count": len(runs),
        "check_runs": [shapes_checks.check_run(hub, repo, r) for r in page],
    }
    return json_response(request, body, headers=links)


_R = "/repos/{owner}/{repo}"
ROUTES = [
    Route(_R + "/check-runs", create_check_run, methods=["POST"]),
    Route(_R + "/check-runs/{check_run_id:int}", get_check_run),
    Route(_R + "/check-runs/{check_run_id:int}", update_check_run, methods=["PATCH"]),
    Route(_R + "/check-runs/{check_run_id:int}/annotations", list_annotations),
    Route(_R + "/commits/{ref:path}/check-runs", list_for_ref),
]
