"""Every REST response Baton reads parses with githubkit's own (strict) response models."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from githubkit_schemas.latest.models import (
    BranchWithProtection,
    CheckAnnotation,
    CheckRun,
    ContentFile,
    DiffEntry,
    FileCommit,
    FullRepository,
    GitRef,
    Installation,
    InstallationToken,
    Integration,
    Issue,
    IssueComment,
    Label,
    PullRequest,
    PullRequestReviewComment,
    PullRequestSimple,
    RateLimitOverview,
    Reaction,
    RepositoryCollaboratorPermission,
)
from pydantic import BaseModel

from bot import gitops
from tests.localhub.conftest import OWNER, REPO, Env, b64

pytestmark = pytest.mark.anyio
R = f"repos/{OWNER}/{REPO}"


def each(model: type[BaseModel], resp: httpx.Response, status: int = 200) -> list[Any]:
    assert resp.status_code == status, resp.text
    items = resp.json()
    assert isinstance(items, list)
    assert items, "an empty list proves nothing about its elements"
    return [model.model_validate(item) for item in items]


def one(model: type[BaseModel], resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return model.model_validate(resp.json())


async def test_repository_contents_branch_and_permission(env: Env) -> None:
    async with env.user() as user:
        repo = one(FullRepository, await user.get(R))
        assert repo.clone_url == f"http://localhub.test/{OWNER}/{REPO}.git"
        assert repo.default_branch == "main"
        assert repo.permissions.admin is True
        content = one(ContentFile, await user.get(f"{R}/contents/calc.py"))
        assert content.encoding == "base64"
        assert content.path == "calc.py"
        fixed = one(ContentFile, await user.get(f"{R}/contents/calc.py", params={"ref": "fix"}))
        assert fixed.sha != content.sha
        one(BranchWithProtection, await user.get(f"{R}/branches/fix"))
        ref = one(GitRef, await user.get(f"{R}/git/ref/heads/fix"))
        assert ref.object_.sha == (await user.get(f"{R}/branches/fix")).json()["commit"]["sha"]
        new = await user.put(
            f"{R}/contents/docs/notes.md", json={"message": "notes", "content": b64("# Notes\n")}
        )
        one(FileCommit, new, 201)
        perm = one(
            RepositoryCollaboratorPermission,
            await user.get(f"{R}/collaborators/{OWNER}/permission"),
        )
        assert (perm.permission, perm.role_name) == ("admin", "admin")


async def test_issues_labels_comments_reactions(env: Env) -> None:
    async with env.user() as user:
        issue = one(
            Issue, await user.post(f"{R}/issues", json={"title": "t", "labels": ["bug"]}), 201
        )
        n = issue.number
        one(Issue, await user.get(f"{R}/issues/{n}"))
        one(Issue, await user.patch(f"{R}/issues/{n}", json={"body": "more"}))
        each(Issue, await user.get(f"{R}/issues"))
        each(Label, await user.post(f"{R}/issues/{n}/labels", json={"labels": ["agent:fix"]}))
        each(Label, await user.get(f"{R}/labels"))
        one(Label, await user.post(f"{R}/labels", json={"name": "docs", "color": "0000ff"}), 201)
        comment = one(IssueComment, await user.post(f"{R}/issues/{n}/comments", json={"body": "x"}),
                      201)  # fmt: skip
        one(IssueComment, await user.patch(f"{R}/issues/comments/{comment.id}", json={"body": "y"}))
        each(IssueComment, await user.get(f"{R}/issues/{n}/comments"))
        one(Reaction, await user.post(f"{R}/issues/{n}/reactions", json={"content": "eyes"}), 201)
        one(
            Reaction,
            await user.post(f"{R}/issues/comments/{comment.id}/reactions", json={"content": "+1"}),
            201,
        )
        each(Reaction, await user.get(f"{R}/issues/comments/{comment.id}/reactions"))


async def test_pull_request_files_review_comments_and_check_runs(env: Env) -> None:
    async with env.user() as user:
        created = await user.post(
            f"{R}/pulls", json={"title": "Fix add", "head": "fix", "base": "main", "body": "b"}
        )
        pr = one(PullRequest, created, 201)
        assert (pr.head.ref, pr.base.ref, pr.changed_files, pr.mergeable) == (
            "fix", "main", 1, True
        )  # fmt: skip
        one(PullRequest, await user.get(f"{R}/pulls/{pr.number}"))
        each(PullRequestSimple, await user.get(f"{R}/pulls", params={"head": f"{OWNER}:fix"}))
        [diff] = each(DiffEntry, await user.get(f"{R}/pulls/{pr.number}/files"))
        assert (diff.filename, diff.status, diff.additions, diff.deletions) == (
            "calc.py", "modified", 1, 1
        )  # fmt: skip
        assert "+    return a + b" in diff.patch
        review = await user.post(
            f"{R}/pulls/{pr.number}/comments",
            json={"body": "/agent retry", "path": "calc.py", "line": 2, "commit_id": pr.head.sha},
        )
        comment = one(PullRequestReviewComment, review, 201)
        each(PullRequestReviewComment, await user.get(f"{R}/pulls/{pr.number}/comments"))
        one(
            Reaction,
            await user.post(f"{R}/pulls/comments/{comment.id}/reactions", json={"content": "eyes"}),
            201,
        )
    async with env.github() as gh:
        made = await gh.arequest(
            "POST",
            f"/{R}/check-runs",
            json={"name": "Baton", "head_sha": pr.head.sha, "status": "in_progress"},
        )
        run = one(CheckRun, made, 201)
        assert [p.number for p in run.pull_requests] == [pr.number]
        note = {"path": "calc.py", "start_line": 2, "end_line": 2,
                "annotation_level": "failure", "message": "m"}  # fmt: skip
        done = await gh.arequest(
            "PATCH",
            f"/{R}/check-runs/{run.id}",
            json={"conclusion": "failure",
                  "output": {"title": "ok", "summary": "s", "annotations": [note]}},
        )  # fmt: skip
        finished = one(CheckRun, done)
        assert (finished.status, finished.output.annotations_count) == ("completed", 1)
        [annotation] = each(
            CheckAnnotation, await gh.arequest("GET", f"/{R}/check-runs/{run.id}/annotations")
        )
        assert (annotation.path, annotation.start_line, annotation.message) == ("calc.py", 2, "m")
        listed = await gh.arequest("GET", f"/{R}/commits/{pr.head.sha}/check-runs")
        [again] = [CheckRun.model_validate(c) for c in listed.json()["check_runs"]]
        assert again.app is not None
        assert (again.conclusion, again.app.slug) == ("failure", "baton")


async def test_app_routes_tokens_and_rate_limit(env: Env) -> None:
    async with env.app_github() as app_gh:
        one(Integration, await app_gh.arequest("GET", "/app"))
        inst = one(
            Installation, await app_gh.arequest("GET", f"/repos/{OWNER}/{REPO}/installation")
        )
        assert inst.id == env.installation_id
        minted = await app_gh.arequest(
            "POST",
            f"/app/installations/{env.installation_id}/access_tokens",
            json={"repositories": [REPO], "permissions": {"contents": "write"}},
        )
        token = one(InstallationToken, minted, 201)
        assert token.token.startswith("ghs_")
        assert token.repository_selection == "selected"
    async with env.github() as gh:
        one(RateLimitOverview, await gh.arequest("GET", "/rate_limit"))


async def test_a_fork_and_a_pull_request_from_it(env: Env) -> None:
    env.hub.create_user("mallory")
    async with env.user("mallory") as mallory:
        fork = one(FullRepository, await mallory.post(f"{R}/forks"), 202)
        assert (fork.fork, fork.parent.full_name, fork.source.full_name) == (
            True, f"{OWNER}/{REPO}", f"{OWNER}/{REPO}",
        )  # fmt: skip
        current = (await mallory.get(f"repos/mallory/{REPO}/contents/calc.py")).json()
        await mallory.put(f"repos/mallory/{REPO}/contents/calc.py", json={
            "message": "Hers", "content": b64("def add(a, b):\n    return b + a\n"),
            "sha": current["sha"],
        })  # fmt: skip
        body = {"title": "From a fork", "head": "mallory:main", "base": "main"}
        pr = one(PullRequest, await mallory.post(f"{R}/pulls", json=body), 201)
        listed = each(PullRequestSimple, await mallory.get(f"{R}/pulls?head=mallory:main"))
    assert pr.head.repo is not None
    assert (pr.head.repo.full_name, pr.head.label, pr.head.user.login) == (
        f"mallory/{REPO}", "mallory:main", "mallory",
    )  # fmt: skip
    assert [p.number for p in listed] == [pr.number]
    base = env.hub.repo(OWNER, REPO)
    assert base is not None
    kept = await gitops.git("rev-parse", f"refs/pull/{pr.number}/head", cwd=base.path)
    assert kept == pr.head.sha  # the base repository keeps the fork's head
