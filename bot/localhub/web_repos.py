"""Simple HTML views of a repository, so that a browser shows what `baton demo --keep` made:
its issues and pull requests, each with its comments; a pull request with its body, commits,
check runs and diff. Everything shown was written by people or agents: it is escaped, and the
page forbids scripts (`pages.CSP`). Read-only and unauthenticated, like the admin API (the
emulator listens on 127.0.0.1)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.localhub import gitstore
from bot.localhub.http import hub_of
from bot.localhub.pages import error_page, esc, page

if TYPE_CHECKING:
    from starlette.requests import Request

    from bot.localhub.state import Issue, Repo


def _repo(request: Request) -> Repo | None:
    return hub_of(request).repo(request.path_params["owner"], request.path_params["repo"])


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _link(repo: Repo, item: Issue) -> str:
    kind = "pull" if item.pull is not None else "issues"
    labels = "".join(f" <span class=meta>[{esc(label)}]</span>" for label in item.labels)
    return (
        f'<li><a href="/{esc(repo.full_name)}/{kind}/{item.number}">#{item.number} '
        f"{esc(item.title)}</a> <span class=meta>{esc(item.state)}</span>{labels}</li>"
    )


async def repository(request: Request) -> Response:
    repo = _repo(request)
    if repo is None:
        return error_page(404, "Not Found")
    items = sorted(repo.issues.values(), key=lambda i: i.number, reverse=True)
    pulls = "".join(_link(repo, i) for i in items if i.pull is not None) or "<li>none</li>"
    issues = "".join(_link(repo, i) for i in items if i.pull is None) or "<li>none</li>"
    body = (
        f"<p class=meta>default branch {esc(repo.default_branch)} · "
        f"clone {esc(hub_of(request).web_url)}/{esc(repo.full_name)}.git</p>"
        f"<h2>Pull requests</h2><ul>{pulls}</ul><h2>Issues</h2><ul>{issues}</ul>"
    )
    return page(repo.full_name, body)


def _text(text: str | None) -> str:
    return f"<pre>{esc(text)}</pre>" if text else "<p class=meta>(no description)</p>"


def _comments(repo: Repo, item: Issue) -> str:
    shown = []
    for comment_id in item.comments:
        comment = repo.comments.get(comment_id)
        if comment is None:
            continue
        shown.append(
            f'<div class=box id="issuecomment-{comment.id}"><p class=meta>{esc(comment.user)} · '
            f"{_when(comment.created_at)}</p>{_text(comment.body)}</div>"
        )
    return "<h2>Comments</h2>" + ("".join(shown) or "<p class=meta>none</p>")


def _header(item: Issue) -> str:
    labels = ", ".join(item.labels) or "none"
    return (
        f"<p class=meta>{esc(item.state)} · opened by {esc(item.user)} on "
        f"{_when(item.created_at)} · labels: {esc(labels)}</p>"
    )


async def issue(request: Request) -> Response:
    repo = _repo(request)
    item = repo.issues.get(request.path_params["number"]) if repo is not None else None
    if repo is None or item is None:
        return error_page(404, "Not Found")
    if item.pull is not None:
        return RedirectResponse(f"/{repo.full_name}/pull/{item.number}", status_code=302)
    body = _header(item) + _text(item.body) + _comments(repo, item)
    return page(f"{item.title} · #{item.number}", body)


def _diff_lines(patch: str) -> str:
    out = []
    for line in patch.splitlines():
        kind = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        out.append(f"<span class={kind}>{esc(line)}</span>" if kind else esc(line))
    return "<pre>" + "\n".join(out) + "</pre>"


async def _commits(repo: Repo, item: Issue) -> str:
    assert item.pull is not None
    shas = await gitstore.commits_between(repo.path, item.pull.base_sha, item.pull.head_sha)
    shown = []
    for sha in shas:
        info = await gitstore.commit_info(repo.path, sha)
        shown.append(
            f"<div class=box><p class=meta>{esc(sha[:10])} · {esc(info.author_name)} · "
            f"{esc(info.author_date)}</p><pre>{esc(info.message)}</pre></div>"
        )
    return "<h2>Commits</h2>" + ("".join(shown) or "<p class=meta>none</p>")


def _checks(repo: Repo, head_sha: str) -> str:
    runs = [r for r in repo.check_runs.values() if r.head_sha == head_sha]
    shown = [
        f"<div class=box><p><b>{esc(r.name)}</b>: {esc(r.conclusion or r.status)}"
        f" · {esc(r.output.get('title') or '')}</p>{_text(r.output.get('summary'))}</div>"
        for r in runs
    ]
    return "<h2>Checks</h2>" + ("".join(shown) or "<p class=meta>none</p>")


async def pull(request: Request) -> Response:
    repo = _repo(request)
    item = repo.issues.get(request.path_params["number"]) if repo is not None else None
    if repo is None or item is None:
        return error_page(404, "Not Found")
    if item.pull is None:
        return RedirectResponse(f"/{repo.full_name}/issues/{item.number}", status_code=302)
    pr = item.pull
    changes = await gitstore.diff(repo.path, pr.base_sha, pr.head_sha)
    files = "".join(
        f"<h3>{esc(c.filename)} <span class=add>+{c.additions}</span> "
        f"<span class=del>-{c.deletions}</span></h3>{_diff_lines(c.patch)}"
        for c in changes
    )
    body = (
        _header(item)
        + f"<p class=meta>{esc(pr.head_ref)} → {esc(pr.base_ref)}"
        + (" · draft" if pr.draft else "")
        + "</p>"
        + _text(item.body)
        + await _commits(repo, item)
        + _checks(repo, pr.head_sha)
        + f"<h2>Files changed</h2>{files or '<p class=meta>none</p>'}"
        + _comments(repo, item)
    )
    return page(f"{item.title} · #{item.number}", body)


ROUTES = [
    Route("/{owner}/{repo}", repository),
    Route("/{owner}/{repo}/issues", repository),
    Route("/{owner}/{repo}/pulls", repository),
    Route("/{owner}/{repo}/issues/{number:int}", issue),
    Route("/{owner}/{repo}/pull/{number:int}", pull),
]
