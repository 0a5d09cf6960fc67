"""Facts about Baton's own pull requests, as GitHub's webhooks told them: the scoreboard's input.

Each fact is one `PullEvent`, written once under a key (a redelivered webhook or a retried job
writes nothing new) and never changed; what a pull request amounts to (merged, touched by a
person, green on its first head) is folded from them by `bot.scoreboard.facts`, so a rule can
change without rewriting what was stored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class PullEventKind(enum.StrEnum):
    """What happened to one of Baton's pull requests (or to a commit of one)."""

    OPENED = "opened"  # data: branch, base, head, draft, title
    PUSHED = "pushed"  # data: sha, before, by_baton, pusher
    DRAFT = "draft"  # converted back to a draft
    READY = "ready"  # marked ready for review
    REVIEWED = "reviewed"  # data: review_id, commit, state, reviewer
    CLOSED = "closed"  # data: merged, merge_sha, by
    REOPENED = "reopened"
    CHECKED = "checked"  # data: sha, verdict ("pass" | "fail"), app; number 0 if no PR yet
    REVERTED = "reverted"  # data: by ("owner/repo#M", the PR that reverted it)


@dataclass(frozen=True, slots=True)
class PullEvent:
    """One fact. `key` makes it idempotent within the repository; `at` is GitHub's time of it
    (seconds since the epoch); `data` is a JSON object."""

    repo: str
    number: int
    key: str
    kind: PullEventKind
    at: float
    data: dict[str, Any]
