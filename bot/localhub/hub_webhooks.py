"""The hub's webhook surface: repository events sent to the apps, and the recorded deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.localhub import shapes
from bot.localhub.hub_world import HubWorld

if TYPE_CHECKING:
    from bot.localhub.state import Repo
    from bot.localhub.webhooks import Delivery


class Webhooks(HubWorld):
    """Events out to every subscribed installation; deliveries kept for tests and redelivery."""

    @property
    def webhooks_enabled(self) -> bool:
        return self.dispatcher.enabled

    @webhooks_enabled.setter
    def webhooks_enabled(self, value: bool) -> None:
        self.dispatcher.enabled = value

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.dispatcher.deliveries)

    async def redeliver(self, delivery_id: str) -> Delivery:
        """Send a recorded delivery again, with its original `X-GitHub-Delivery` id."""
        return self.dispatcher.redeliver(delivery_id)

    async def wait_for_deliveries(self, timeout_s: float = 30.0) -> None:
        await self.dispatcher.wait(timeout_s)

    def emit(self, event: str, repo: Repo, sender: str, fields: dict[str, Any]) -> None:
        """Send a repository event to every app installed on the owner that subscribes to it."""
        for app in self.apps.values():
            inst = self.installation_for(app.id, repo.owner)
            if inst is None or event not in app.events:
                continue
            payload: dict[str, Any] = {
                **fields,
                "repository": shapes.repository(self, repo),
                "sender": shapes.user(self, sender),
                "installation": {"id": inst.id, "node_id": shapes.node_id("Installation", inst.id)},
            }
            if self.account(repo.owner).type == "Organization":
                payload["organization"] = shapes.organization(self, repo.owner)
            self.send_webhook(app, event, payload, key=f"app:{app.id}:{repo.full_name}")
