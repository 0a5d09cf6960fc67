"""What a webhook said about one of Baton's pull requests: the serialisable note a `pull` job
carries from intake (which read it off the payload, without I/O) to the worker (which records
it, and tidies the branch when the PR closes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.store.pulls import PullEventKind

PULL_TASK = "pull"
# A merged pull request (anyone's) whose text says it reverts others: the worker finds which.
REVERT = "revert"


class PullNote(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    delivery_id: str
    installation_id: int
    repo: str  # owner/name
    owner: str
    name: str
    clone_url: str
    default_branch: str
    number: int  # the pull request; 0 for a check of a commit no PR had yet
    kind: PullEventKind | Literal["revert"]
    at: float  # GitHub's time of it, seconds since the epoch
    key: str  # the fact's key: a redelivery or a retried job records nothing twice
    data: dict[str, Any] = {}
    branch: str = ""  # the PR's head branch
    head_sha: str = ""  # the PR's head when it closed (the branch may be deleted then)
    reverts_numbers: tuple[int, ...] = ()
    reverts_shas: tuple[str, ...] = ()

    @property
    def lock(self) -> str | None:
        """Facts of one PR are recorded in the order GitHub sent them."""
        return f"pull:{self.repo}#{self.number}" if self.number else None
