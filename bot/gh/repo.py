"""`RepoGitHub`: every REST call on one repository, gathered from the calls by resource."""

from __future__ import annotations

from bot.gh.issues import IssueCalls
from bot.gh.pulls import PullCalls


class RepoGitHub(IssueCalls, PullCalls):
    """REST calls on one repository with one installation token (used inside `async with`)."""
