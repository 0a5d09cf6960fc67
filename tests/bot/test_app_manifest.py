"""`app.yml` asks for exactly the events Baton handles, with the permissions its calls need."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.intake import intake_router

MANIFEST = Path(__file__).parents[2] / "app.yml"


def test_the_manifest_subscribes_to_exactly_the_events_baton_handles() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert set(manifest["default_events"]) == set(intake_router().events())


def test_the_manifest_asks_only_for_the_permissions_baton_uses() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["default_permissions"] == {
        "metadata": "read",
        "contents": "write",
        "issues": "write",
        "pull_requests": "write",
        "checks": "write",
    }
