"""`app.yml` asks for exactly the events Baton handles, with the permissions its calls need."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.intake import intake_router
from bot.intake.installations import DELIVERED_TO_EVERY_APP

MANIFEST = Path(__file__).parents[2] / "app.yml"


def test_the_manifest_subscribes_to_exactly_the_events_baton_handles() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    subscribed = set(manifest["default_events"])
    # The lifecycle events come unasked, and GitHub refuses a manifest that lists them.
    assert subscribed | DELIVERED_TO_EVERY_APP == set(intake_router().events())
    assert not subscribed & DELIVERED_TO_EVERY_APP


def test_the_manifest_says_why_baton_handles_the_events_every_app_gets() -> None:
    text = MANIFEST.read_text()
    for event in DELIVERED_TO_EVERY_APP:
        assert f"#   {event} " in text


def test_the_manifest_asks_only_for_the_permissions_baton_uses() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["default_permissions"] == {
        "metadata": "read",
        "contents": "write",
        "issues": "write",
        "pull_requests": "write",
        "checks": "write",
    }
