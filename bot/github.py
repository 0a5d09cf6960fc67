"""The public face of `bot.gh`, the one package that talks to GitHub's REST API.

githubkit sends the requests through its typed methods; responses are read with `.json()` into
small tolerant values rather than githubkit's strict models, which reject some of GitHub's real
responses. Callers import from here; the package's modules are split by responsibility:
`errors` and `calls` (every request's shape), `models` (the values read), `app` (the app's
identity and installation tokens), and `base`, `issues`, `pulls`, gathered by `repo` into
`RepoGitHub` (the calls on one repository).
"""

from __future__ import annotations

from bot.gh.app import REPO_PERMISSIONS, TOKEN_MARGIN_S, GitHubApp
from bot.gh.calls import MAX_PAGES, PER_PAGE, capped_retry
from bot.gh.errors import GitHubError, GitHubUnavailable, NotFound
from bot.gh.issues import REACTION_REFUSED
from bot.gh.models import (
    CheckRunInfo,
    InstallationToken,
    IssueComment,
    IssueText,
    PullRequest,
    Reaction,
    ReviewComment,
)
from bot.gh.repo import RepoGitHub

__all__ = [
    "MAX_PAGES",
    "PER_PAGE",
    "REACTION_REFUSED",
    "REPO_PERMISSIONS",
    "TOKEN_MARGIN_S",
    "CheckRunInfo",
    "GitHubApp",
    "GitHubError",
    "GitHubUnavailable",
    "InstallationToken",
    "IssueComment",
    "IssueText",
    "NotFound",
    "PullRequest",
    "Reaction",
    "RepoGitHub",
    "ReviewComment",
    "capped_retry",
]
