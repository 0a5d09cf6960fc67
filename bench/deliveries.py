"""The delivery sequence of the intake bench: GitHub's example payloads, signed, in a fixed mix."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "webhooks"
INSTALLATION = {"id": 42, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
# Close to what an installation sees: mostly events Baton drops at once, some labels that are
# not triggers, and a share of `agent:fix` labels that each queue a job for a distinct issue.
TRIGGER_SHARE = 0.10
OTHER_LABEL_SHARE = 0.10
FIRST_TRIGGER_ISSUE = 100_000


@dataclass(frozen=True, slots=True)
class Delivery:
    """One request, ready to send: the body and the headers GitHub would put on it."""

    event: str
    body: bytes
    headers: tuple[tuple[str, str], ...]


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signed(secret: bytes, event: str, body: bytes, *, delivery: str) -> Delivery:
    """The body with the headers GitHub would put on it, signed with `secret`."""
    return Delivery(
        event=event,
        body=body,
        headers=(
            ("Content-Type", "application/json"),
            ("User-Agent", "GitHub-Hookshot/bench"),
            ("X-GitHub-Event", event),
            ("X-GitHub-Delivery", delivery),
            ("X-GitHub-Hook-ID", "1"),
            ("X-GitHub-Hook-Installation-Target-Type", "integration"),
            ("X-GitHub-Hook-Installation-Target-ID", "1"),
            ("X-Hub-Signature-256", sign(secret, body)),
        ),
    )


def _load(stem: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{stem}.json").read_text())
    data["installation"] = dict(INSTALLATION)
    return data


def _noise_stems() -> list[str]:
    """Every stored example except pings (setup traffic) and labels (mixed in on purpose)."""
    stems = sorted(path.stem for path in FIXTURES.glob("*.json"))
    return [s for s in stems if not s.startswith(("ping.", "issues.labeled."))]


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class DeliveryMix:
    """Builds the same deterministic sequence for every target, so they serve identical work."""

    def __init__(
        self, *, secret: bytes, seed: int = 1, trigger_share: float = TRIGGER_SHARE
    ) -> None:
        self._secret = secret
        self._seed = seed
        self._trigger_share = trigger_share
        self._noise = [(stem.split(".")[0], _encode(_load(stem))) for stem in _noise_stems()]
        self._other_label = _encode(_load("issues.labeled.0"))
        self._trigger = _load("issues.labeled.1")
        self._trigger["label"]["name"] = "agent:fix"
        self._trigger["issue"]["state"] = "open"

    def build(self, count: int) -> list[Delivery]:
        """`count` deliveries, each with its own delivery id (slice it into the bench's phases)."""
        rng = random.Random(self._seed)
        out: list[Delivery] = []
        for index in range(count):
            roll = rng.random()
            if roll < self._trigger_share:
                event, body = "issues", self._trigger_body(index)
            elif roll < self._trigger_share + OTHER_LABEL_SHARE:
                event, body = "issues", self._other_label
            else:
                event, body = rng.choice(self._noise)
            delivery = str(uuid.uuid5(uuid.NAMESPACE_URL, f"baton-bench/{self._seed}/{index}"))
            out.append(signed(self._secret, event, body, delivery=delivery))
        return out

    def _trigger_body(self, index: int) -> bytes:
        payload = copy.deepcopy(self._trigger)
        # A distinct issue per trigger: distinct locks and dedupe keys, so each one queues a job.
        payload["issue"]["number"] = FIRST_TRIGGER_ISSUE + index
        return _encode(payload)


def saturating(secret: bytes) -> Delivery:
    """The one delivery of the saturated bench: a `bug` label added to an issue that already
    carries `agent:fix`. It starts nothing, but its bytes contain the label prefix, so Baton has
    to read the payload to know that. Its delivery id is a placeholder: wrk sends a fresh one."""
    payload = _load("issues.labeled.0")
    trigger_label = dict(payload["label"], name="agent:fix", id=1, default=False)
    payload["issue"]["labels"].append(trigger_label)
    payload["issue"]["state"] = "open"
    return signed(secret, "issues", _encode(payload), delivery="-")


def count_triggers(deliveries: list[Delivery]) -> int:
    """How many deliveries of the sequence ask Baton for a run."""
    return sum(1 for d in deliveries if b'"name":"agent:fix"' in d.body)
