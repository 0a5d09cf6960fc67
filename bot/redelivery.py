"""Which webhook deliveries to ask GitHub for again (pure: GitHub's record of attempts in, the
attempts to redeliver out).

GitHub never retries a failed delivery by itself. A delivery (one `guid`) is worth asking for
again when none of its attempts reached Baton with a 2xx; one that succeeded never is. A
redelivery keeps its guid, so Baton's dedupe runs it at most once even when it had in fact
been received. Attempts are bounded: a delivery that keeps failing (a wrong webhook secret, a
payload Baton refuses) is left to the operator (`baton deliveries --failed`) after
`MAX_AUTOMATIC` tries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from bot.gh.deliveries import HookDelivery

MAX_AUTOMATIC = 2
# GitHub keeps deliveries this long for redelivery: 3 days on github.com (and ghe.com), 7 on
# GitHub Enterprise Server.
DOTCOM_WINDOW_S = 3 * 86400.0
SERVER_WINDOW_S = 7 * 86400.0


def never_delivered(attempts: Iterable[HookDelivery]) -> list[HookDelivery]:
    """The latest attempt of each delivery none of whose attempts succeeded, newest first
    (`attempts` newest first, as GitHub lists them)."""
    succeeded = {a.guid for a in attempts if a.ok}
    seen: set[str] = set()
    out = []
    for attempt in attempts:
        if attempt.guid in succeeded or attempt.guid in seen:
            continue
        seen.add(attempt.guid)
        out.append(attempt)
    return out


def to_redeliver(
    attempts: list[HookDelivery], *, requested: Mapping[str, int], limit: int = MAX_AUTOMATIC
) -> list[HookDelivery]:
    """The attempts to redeliver: the latest of each delivery that never succeeded, unless it
    was redelivered `limit` times already (as GitHub's record shows, or as `requested`, this
    process's own count, shows when GitHub has not recorded them yet)."""
    redelivered: dict[str, int] = {}
    for attempt in attempts:
        if attempt.redelivery:
            redelivered[attempt.guid] = redelivered.get(attempt.guid, 0) + 1
    return [
        a
        for a in never_delivered(attempts)
        if max(redelivered.get(a.guid, 0), requested.get(a.guid, 0)) < limit
    ]


def window_s(api_url: str) -> float:
    """How far back GitHub keeps deliveries for the GitHub at `api_url`."""
    host = api_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    if host == "api.github.com" or host.endswith(".ghe.com"):
        return DOTCOM_WINDOW_S
    return SERVER_WINDOW_S
