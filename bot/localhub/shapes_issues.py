"""JSON shapes of issues, comments, pull requests, review comments, check runs and diff entries."""

from __future__ import annotations

from dataclasses import dataclass

from bot.localhub.shapes import (
    Json,
    World,
    integration,
    label,
    node_id,
    repo_api,
    repo_html,
    repository,
    rollup,
    user,
)
from bot.localhub.state import CheckRun, Comment, Issue, Repo, ReviewComment, iso


@dataclass(frozen=True, slots=True)
class PullStats:
    """What only git knows about a pull request: its size and whether it merges cleanly."""

    commits: int
    additions: int
    deletions: int
    changed_files: int
    mergeable: bool | None


def _labels(w: World, repo: Repo, issue: Issue) -> list[Json]:
    return [label(w, repo, repo.labels[name.lower()]) for name in issue.labels]


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
        "labels": _labels(w, repo, item),
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


def _branch(w: World, repo: Repo, ref: str, sha: str) -> Json:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(w, repo.owner),
        "repo": repository(w, repo),
    }


def pull(w: World, repo: Repo, item: Issue, stats: PullStats | None = None) -> Json:
    """A pull request; with `stats` the full object (GET one, webhooks), else the list shape."""
    pr = item.pull
    assert pr is not None
    api = f"{repo_api(w, repo)}/pulls/{item.number}"
    issue_api = f"{repo_api(w, repo)}/issues/{item.number}"
    html = f"{repo_html(w, repo)}/pull/{item.number}"
    statuses = f"{repo_api(w, repo)}/statuses/{pr.head_sha}"
    links = {
        "self": api,
        "html": html,
        "issue": issue_api,
        "comments": f"{issue_api}/comments",
        "review_comments": f"{api}/comments",
        "review_comment": f"{repo_api(w, repo)}/pulls/comments{{/number}}",
        "commits": f"{api}/commits",
        "statuses": statuses,
    }
    data: Json = {
        "url": api,
        "id": item.pull_id,
        "node_id": node_id("PullRequest", item.pull_id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": statuses,
        "number": item.number,
        "state": item.state,
        "locked": False,
        "title": item.title,
        "user": user(w, item.user),
        "body": item.body,
        "labels": _labels(w, repo, item),
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "closed_at": iso(item.closed_at) if item.closed_at is not None else None,
        "merged_at": iso(pr.merged_at) if pr.merged_at is not None else None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _branch(w, repo, pr.head_ref, pr.head_sha),
        "base": _branch(w, repo, pr.base_ref, pr.base_sha),
        "_links": {key: {"href": href} for key, href in links.items()},
        "author_association": w.association(repo, item.user),
        "auto_merge": None,
        "draft": pr.draft,
    }
    if stats is not None:
        data |= {
            "merged": pr.merged,
            "mergeable": stats.mergeable if item.state == "open" else None,
            "rebaseable": stats.mergeable if item.state == "open" else None,
            "mergeable_state": _mergeable_state(item, stats),
            "merged_by": None,
            "comments": len(item.comments),
            "review_comments": sum(
                1 for c in repo.review_comments.values() if c.number == item.number
            ),
            "maintainer_can_modify": False,
            "commits": stats.commits,
            "additions": stats.additions,
            "deletions": stats.deletions,
            "changed_files": stats.changed_files,
        }
    return data


def _mergeable_state(item: Issue, stats: PullStats) -> str:
    if item.state != "open" or stats.mergeable is None:
        return "unknown"
    if not stats.mergeable:
        return "dirty"
    return "draft" if item.pull is not None and item.pull.draft else "clean"


def review_comment(w: World, repo: Repo, item: ReviewComment) -> Json:
    api = f"{repo_api(w, repo)}/pulls/comments/{item.id}"
    html = f"{repo_html(w, repo)}/pull/{item.number}#discussion_r{item.id}"
    pull_api = f"{repo_api(w, repo)}/pulls/{item.number}"
    data: Json = {
        "url": api,
        "pull_request_review_id": item.id,
        "id": item.id,
        "node_id": node_id("PullRequestReviewComment", item.id),
        "diff_hunk": item.diff_hunk,
        "path": item.path,
        "position": item.line,
        "original_position": item.line,
        "commit_id": item.commit_id,
        "original_commit_id": item.commit_id,
        "user": user(w, item.user),
        "body": item.body,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "html_url": html,
        "pull_request_url": pull_api,
        "author_association": w.association(repo, item.user),
        "_links": {
            "self": {"href": api},
            "html": {"href": html},
            "pull_request": {"href": pull_api},
        },
        "reactions": rollup(f"{api}/reactions", item.reactions),
        "start_line": None,
        "original_start_line": None,
        "start_side": None,
        "line": item.line,
        "original_line": item.line,
        "side": item.side,
        "subject_type": "line",
    }
    if item.in_reply_to is not None:
        data["in_reply_to_id"] = item.in_reply_to
    return data


def _minimal_pull(w: World, repo: Repo, item: Issue) -> Json:
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
        _minimal_pull(w, repo, i)
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
        "check_suite": {"id": run.id},
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
