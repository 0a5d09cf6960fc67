"""JSON shapes of accounts, repositories, labels, apps and installations, as GitHub writes them.

Each builder returns the superset that both the REST models and the (strict) webhook models of
githubkit's schema 2026-03-10 accept, so one shape serves a response and a webhook payload.
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

from bot.localhub.state import (
    RANK,
    REACTIONS,
    Account,
    App,
    Installation,
    Label,
    Reaction,
    Repo,
    iso,
)

Json = dict[str, Any]


class World(Protocol):
    """What the builders read: the public URLs and the records they refer to by key."""

    @property
    def api_url(self) -> str: ...  # no trailing slash, e.g. http://127.0.0.1:PORT/api/v3

    @property
    def web_url(self) -> str: ...  # no trailing slash

    def account(self, login: str) -> Account: ...

    def app(self, app_id: int) -> App: ...

    def permission(self, repo: Repo, login: str) -> str: ...

    def association(self, repo: Repo, login: str) -> str: ...

    def repo(self, owner: str, name: str) -> Repo | None: ...


def node_id(kind: str, ident: int) -> str:
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode()


def user(w: World, login: str) -> Json:
    a = w.account(login)
    api = f"{w.api_url}/users/{login}"
    return {
        "login": a.login,
        "id": a.id,
        "node_id": node_id("User", a.id),
        "avatar_url": f"{w.web_url}/avatars/u/{a.id}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{w.web_url}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": a.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def collaborator(w: World, login: str, role: str) -> Json:
    return {**user(w, login), "role_name": role}


def organization(w: World, login: str) -> Json:
    a = w.account(login)
    api = f"{w.api_url}/orgs/{login}"
    return {
        "login": a.login,
        "id": a.id,
        "node_id": node_id("Organization", a.id),
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"{w.web_url}/avatars/u/{a.id}",
        "description": None,
    }


# (key, suffix) pairs of the URL templates every repository object carries.
_REPO_URLS = (
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
)


def repo_api(w: World, repo: Repo) -> str:
    return f"{w.api_url}/repos/{repo.full_name}"


def repo_html(w: World, repo: Repo) -> str:
    return f"{w.web_url}/{repo.full_name}"


def repository(w: World, repo: Repo, *, viewer: str | None = None) -> Json:
    """The full repository object; `permissions` is the viewer's, as GitHub adds it."""
    api = repo_api(w, repo)
    html = repo_html(w, repo)
    open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
    data: Json = {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": user(w, repo.owner),
        "html_url": html,
        "description": repo.description,
        "fork": repo.parent is not None,
        "url": api,
        **{key: api + suffix for key, suffix in _REPO_URLS},
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.pushed_at),
        "pushed_at": iso(repo.pushed_at),
        "git_url": f"{html}.git".replace("http://", "git://", 1),
        "ssh_url": f"git@localhub:{repo.full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": False,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "archived": False,
        "disabled": False,
        "open_issues_count": open_issues,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if repo.private else "public",
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": repo.default_branch,
        "subscribers_count": 0,
        "network_count": 0,
        "custom_properties": {},
    }
    if viewer is not None:
        rank = RANK[w.permission(repo, viewer)]
        data["permissions"] = {
            "admin": rank >= RANK["admin"],
            "maintain": rank >= RANK["maintain"],
            "push": rank >= RANK["write"],
            "triage": rank >= RANK["triage"],
            "pull": rank >= RANK["read"],
        }
    if w.account(repo.owner).type == "Organization":
        data["organization"] = user(w, repo.owner)
    parent = w.repo(*repo.parent.split("/", 1)) if repo.parent else None
    if parent is not None:
        # GitHub gives a fork its parent and the network's source (here: the same repository).
        data["parent"] = data["source"] = repository(w, parent)
    return data


def label(w: World, repo: Repo, lab: Label) -> Json:
    return {
        "id": lab.id,
        "node_id": node_id("Label", lab.id),
        "url": f"{repo_api(w, repo)}/labels/{lab.name}",
        "name": lab.name,
        "color": lab.color,
        "default": lab.default,
        "description": lab.description,
        "archived_at": None,
        "archived_by": None,
    }


def integration(w: World, app: App) -> Json:
    """An app as GitHub shows it (`GET /app`, `performed_via_github_app`, a check run's app)."""
    return {
        "id": app.id,
        "slug": app.slug,
        "client_id": app.oauth_client_id,
        "node_id": node_id("Integration", app.id),
        "owner": user(w, app.owner),
        "name": app.name,
        "description": app.description,
        "external_url": app.homepage or f"{w.web_url}/apps/{app.slug}",
        "html_url": f"{w.web_url}/apps/{app.slug}",
        "created_at": iso(app.created_at),
        "updated_at": iso(app.created_at),
        "permissions": dict(app.permissions),
        "events": list(app.events),
        "installations_count": 1,
    }


def installation(w: World, inst: Installation) -> Json:
    app = w.app(inst.app_id)
    account = w.account(inst.account)
    return {
        "id": inst.id,
        "account": user(w, inst.account),
        "repository_selection": "all",
        "access_tokens_url": f"{w.api_url}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{w.api_url}/installation/repositories",
        "html_url": f"{w.web_url}/settings/installations/{inst.id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "client_id": app.oauth_client_id,
        "target_id": account.id,
        "target_type": account.type,
        "permissions": dict(app.permissions),
        "events": list(app.events),
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": user(w, inst.account) if inst.suspended_at is not None else None,
        "suspended_at": iso(inst.suspended_at) if inst.suspended_at is not None else None,
    }


def reaction(w: World, r: Reaction) -> Json:
    return {
        "id": r.id,
        "node_id": node_id("Reaction", r.id),
        "user": user(w, r.user),
        "content": r.content,
        "created_at": iso(r.created_at),
    }


def rollup(url: str, reactions: list[Reaction]) -> Json:
    """The `reactions` summary GitHub embeds in issues and comments."""
    counts = {c: sum(1 for r in reactions if r.content == c) for c in REACTIONS}
    return {"url": url, "total_count": len(reactions), **counts}
