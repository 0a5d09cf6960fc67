"""An installation's end, as GitHub tells its App: uninstalled (`installation.deleted`),
suspended (`installation.suspend`), or repositories taken out of it
(`installation_repositories.removed`). Each changes what the installation's tokens reach and
sends the webhook with GitHub's payload shape."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from bot.localhub import shapes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.localhub.hub import Hub
    from bot.localhub.state import Installation, Repo


def _repo_item(repo: Repo) -> dict[str, Any]:
    return {
        "id": repo.id,
        "node_id": shapes.node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
    }


def _reachable(hub: Hub, inst: Installation) -> list[Repo]:
    return [
        r
        for r in hub.repos.values()
        if r.owner.lower() == inst.account.lower() and r.name.lower() not in inst.removed
    ]


def _send(hub: Hub, inst: Installation, event: str, payload: dict[str, Any]) -> None:
    body = {**payload, "sender": shapes.user(hub, inst.account)}
    hub.send_webhook(hub.apps[inst.app_id], event, body, key=f"app:{inst.app_id}")


def uninstall(hub: Hub, installation_id: int) -> None:
    """The account removes the App: its tokens stop working at once."""
    inst = hub.installations[installation_id]
    payload = {
        "action": "deleted",
        "installation": shapes.installation(hub, inst),
        "repositories": [_repo_item(r) for r in _reachable(hub, inst)],
        "requester": None,
    }
    for value, token in list(hub.tokens.items()):
        if token.installation_id == installation_id:
            del hub.tokens[value]
    del hub.installations[installation_id]
    _send(hub, inst, "installation", payload)


def suspend(hub: Hub, installation_id: int) -> None:
    """The account suspends the App: no token is minted, the ones out reach nothing private."""
    inst = hub.installations[installation_id]
    inst.suspended_at = time.time()
    payload = {
        "action": "suspend",
        "installation": shapes.installation(hub, inst),
        "repositories": [_repo_item(r) for r in _reachable(hub, inst)],
        "requester": None,
    }
    _send(hub, inst, "installation", payload)


def remove_repositories(hub: Hub, installation_id: int, names: Sequence[str]) -> None:
    """The account takes repositories out of the installation's selection."""
    inst = hub.installations[installation_id]
    gone = [r for r in _reachable(hub, inst) if r.name.lower() in {n.lower() for n in names}]
    inst.removed.update(r.name.lower() for r in gone)
    payload = {
        "action": "removed",
        "installation": {**shapes.installation(hub, inst), "repository_selection": "selected"},
        "repository_selection": "selected",
        "repositories_added": [],
        "repositories_removed": [_repo_item(r) for r in gone],
        "requester": None,
    }
    _send(hub, inst, "installation_repositories", payload)
