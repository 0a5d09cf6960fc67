"""JSON shapes of issues (pull requests among them, as the issues API shows them) and comments."""

from __future__ import annotations

from bot.localhub.shapes import (
    Json,
    World,
    integration,
    label,
    node_id,
    repo_api,
    repo_html,
    rollup,
    user,
)
from bot.localhub.state import Comment, Issue, Repo, iso


def issue_labels(w: World, repo: Repo, item: Issue) -> list[Json]:
    return [label(w, repo, repo.labels[name.lower()]) for name in item.labels]


def _performed_via(w: World, app_id: int | None) -> Json | None:
    return integration(w, w.app(app_id)) if app_id is not None else None


def issue(w: World, repo: Repo, item: Issue) -> Json:
    api = f"{repo_api(w, repo)}/issues/{item.number}"
    kind = "pull" if item.pull is not None else "issues"
    data: Json = {
        "url": api,
        "repository_url": repo_api(w, repo),
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "timeline_url": f"{api}/timeline",
        "html_url": f"{repo_html(w, repo)}/{kind}/{item.number}",
        "id": item.id,
        "node_id": node_id("Issue", item.id),
        "number": item.number,
        "title": item.title,
        "user": user(w, item.user),
        "labels": issue_labels(w, repo, item),
        "state": item.state,
        "state_reason": item.state_reason,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": len(item.comments),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "closed_at": iso(item.closed_at) if item.closed_at is not None else None,
        "author_association": w.association(repo, item.user),
        "active_lock_reason": None,
        "body": item.body,
        "reactions": rollup(f"{api}/reactions", item.reactions),
        "performed_via_github_app": _performed_via(w, item.app_id),
    }
    if item.pull is not None:
        html = f"{repo_html(w, repo)}/pull/{item.number}"
        data["draft"] = item.pull.draft
        data["pull_request"] = {
            "url": f"{repo_api(w, repo)}/pulls/{item.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": iso(item.pull.merged_at) if item.pull.merged_at is not None else None,
        }
    return data


def comment(w: World, repo: Repo, item: Comment) -> Json:
    api = f"{repo_api(w, repo)}/issues/comments/{item.id}"
    issue_item = repo.issues[item.number]
    kind = "pull" if issue_item.pull is not None else "issues"
    return {
        "url": api,
        "html_url": f"{repo_html(w, repo)}/{kind}/{item.number}#issuecomment-{item.id}",
        "issue_url": f"{repo_api(w, repo)}/issues/{item.number}",
        "id": item.id,
        "node_id": node_id("IssueComment", item.id),
        "user": user(w, item.user),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "author_association": w.association(repo, item.user),
        "body": item.body,
        "reactions": rollup(f"{api}/reactions", item.reactions),
        "performed_via_github_app": _performed_via(w, item.app_id),
    }
