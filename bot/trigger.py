"""What asked for work: the serialisable description of one trigger, carried by a run job."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Trigger(BaseModel):
    """Everything the worker needs from the webhook that started a run (no I/O to rebuild it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["label", "command"]
    delivery_id: str
    installation_id: int
    repo: str  # owner/name
    owner: str
    name: str
    clone_url: str
    default_branch: str
    html_url: str = ""
    number: int
    is_pull_request: bool = False
    title: str = ""
    body: str = ""
    author: str = ""  # who wrote the issue: its title and body are that person's words
    requester: str
    requester_is_bot: bool = False
    verb: str = "fix"
    label: str | None = None
    agent: str | None = None  # an agent named by the trigger itself (`agent:codex`, `/agent codex`)
    comment_id: int | None = None
    comment_kind: Literal["issue", "review"] | None = None
    command_text: str | None = None
    # For a PR Baton opened for an issue: that issue, whose runs work on the same branch.
    for_issue: int | None = None
    # Set only by Baton itself when `/agent approve` starts a run that waited for approval
    # (never read from a webhook): the run keeps its id, row and status comment, and may spend
    # up to the cap that was approved.
    run_id: str | None = None
    approved_by: str | None = None
    approved_cap_usd: float | None = None

    @property
    def lock(self) -> str:
        """Runs on one issue, or on the PR Baton opened for it, never overlap."""
        return f"{self.repo}#{self.for_issue or self.number}"
