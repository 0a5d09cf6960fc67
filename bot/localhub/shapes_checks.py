"""JSON shapes of check runs and their annotations."""

from __future__ import annotations

from bot.localhub.shapes import Json, World, integration, node_id, repo_api, repo_html
from bot.localhub.state import CheckRun, Issue, Repo, iso


def minimal_pull(w: World, repo: Repo, item: Issue) -> Json:
    pr = item.pull
    assert pr is not None
    ref = {"id": repo.id, "url": repo_api(w, repo), "name": repo.name}
    return {
        "id": item.pull_id,
        "number": item.number,
        "url": f"{repo_api(w, repo)}/pulls/{item.number}",
        "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": ref},
        "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": ref},
    }


def check_run(w: World, repo: Repo, run: CheckRun) -> Json:
    api = f"{repo_api(w, repo)}/check-runs/{run.id}"
    pulls = [
        minimal_pull(w, repo, i)
        for i in repo.issues.values()
        if i.pull is not None and i.state == "open" and i.pull.head_sha == run.head_sha
    ]
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CheckRun", run.id),
        "external_id": run.external_id,
        "url": api,
        "html_url": f"{repo_html(w, repo)}/runs/{run.id}",
        "details_url": run.details_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at) if run.completed_at is not None else None,
        "output": {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.annotations),
            "annotations_url": f"{api}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.suite_id or run.id},
        "app": integration(w, w.app(run.app_id)),
        "pull_requests": pulls,
    }


def annotation(a: Json, blob: str) -> Json:
    """A check-run annotation as `GET .../check-runs/{id}/annotations` lists it."""
    return {
        "path": a["path"],
        "blob_href": f"{blob}/{a['path']}",
        "start_line": a["start_line"],
        "end_line": a["end_line"],
        "start_column": a.get("start_column"),
        "end_column": a.get("end_column"),
        "annotation_level": a["annotation_level"],
        "title": a.get("title"),
        "message": a["message"],
        "raw_details": a.get("raw_details"),
    }
