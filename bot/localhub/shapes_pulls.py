"""JSON shapes of pull requests (the list shape and the full one) and their review comments."""

from __future__ import annotations

from dataclasses import dataclass

from bot.localhub.shapes import Json, World, node_id, repo_api, repo_html, repository, rollup, user
from bot.localhub.shapes_issues import issue_labels
from bot.localhub.state import Issue, Repo, ReviewComment, iso


@dataclass(frozen=True, slots=True)
class PullStats:
    """What only git knows about a pull request: its size and whether it merges cleanly."""

    commits: int
    additions: int
    deletions: int
    changed_files: int
    mergeable: bool | None


def _branch(w: World, repo: Repo, ref: str, sha: str) -> Json:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(w, repo.owner),
        "repo": repository(w, repo),
    }


def head_repo(w: World, repo: Repo, item: Issue) -> Repo:
    """The repository the head branch lives in: a fork, or the pull request's own."""
    fork = item.pull.head_repo if item.pull is not None else None
    found = w.repo(*fork.split("/", 1)) if fork else None
    return found or repo


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
        "labels": issue_labels(w, repo, item),
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "closed_at": iso(item.closed_at) if item.closed_at is not None else None,
        "merged_at": iso(pr.merged_at) if pr.merged_at is not None else None,
        "merge_commit_sha": pr.merge_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _branch(w, head_repo(w, repo, item), pr.head_ref, pr.head_sha),
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
            "merged_by": user(w, pr.merged_by) if pr.merged_by else None,
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
