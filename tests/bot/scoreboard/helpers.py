"""Facts and runs for the scoreboard's tests, written the way the webhooks leave them."""

from __future__ import annotations

import itertools
from typing import Any

from bot.store.base import RunRecord
from bot.store.pulls import PullEvent, PullEventKind

REPO = "o/r"
DAY = 24 * 3600.0
_keys = itertools.count(1)


def fact(kind: PullEventKind, number: int, at: float, **data: Any) -> PullEvent:
    return PullEvent(repo=REPO, number=number, key=f"k{next(_keys)}", kind=kind, at=at, data=data)


def opened(number: int, at: float = 0.0, *, head: str = "", draft: bool = False) -> PullEvent:
    sha = head or f"h{number}"
    return fact(PullEventKind.OPENED, number, at, branch=f"baton/{number}", head=sha, draft=draft)


def pushed(number: int, at: float, sha: str, *, by_baton: bool) -> PullEvent:
    pusher = "baton[bot]" if by_baton else "octocat"
    return fact(PullEventKind.PUSHED, number, at, sha=sha, by_baton=by_baton, pusher=pusher)


def merged(number: int, at: float, merge_sha: str = "") -> PullEvent:
    return fact(PullEventKind.CLOSED, number, at, merged=True, merge_sha=merge_sha or f"m{number}")


def closed(number: int, at: float) -> PullEvent:
    return fact(PullEventKind.CLOSED, number, at, merged=False, merge_sha="")


def checked(sha: str, at: float, verdict: str, number: int = 0) -> PullEvent:
    return fact(PullEventKind.CHECKED, number, at, sha=sha, verdict=verdict, app="ci")


def run(run_id: str, **changes: Any) -> RunRecord:
    base = RunRecord(
        id=run_id,
        job_id=1,
        repo=REPO,
        number=1,
        trigger="label",
        verb="fix",
        requester="octocat",
        status="success",
        created_at=0.0,
        agent="claude",
        label="agent:fix",
        branch="baton/1-fix",
        cost_usd=1.0,
        cost_source="reported",
    )
    return base.with_(**changes)
