"""Signing and loading of test webhooks: real payloads from tests/fixtures, signed like GitHub."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def fixture(name: str) -> dict[str, Any]:
    """A payload by file stem, e.g. `issues.labeled.0`."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return copy.deepcopy(data)


def all_fixtures() -> list[tuple[str, str, dict[str, Any]]]:
    """(event, stem, payload) for every stored example."""
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        event = path.name.split(".")[0]
        out.append((event, path.stem, json.loads(path.read_text())))
    return out


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def headers(
    secret: bytes, event: str, body: bytes, *, delivery: str | None = None
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }


def labeled_payload(
    *, label: str = "agent:fix", sender: str = "octocat", installation: int | None = 42
) -> dict[str, Any]:
    """GitHub's own `issues.labeled` example, relabelled for Baton."""
    payload = fixture("issues.labeled.0")
    payload["label"]["name"] = label
    payload["sender"]["login"] = sender
    if installation is None:
        payload.pop("installation", None)
    else:
        payload["installation"] = {
            "id": installation,
            "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=",
        }
    return payload


def comment_payload(
    body: str,
    *,
    sender: str = "octocat",
    comment_id: int = 1001,
    on_pull_request: bool = False,
    installation: int = 42,
) -> dict[str, Any]:
    """GitHub's own `issue_comment.created` example with a chosen body."""
    payload = fixture("issue_comment.created.0")
    payload["comment"]["body"] = body
    payload["comment"]["id"] = comment_id
    payload["sender"]["login"] = sender
    payload["comment"]["user"]["login"] = sender
    payload["installation"] = {"id": installation}
    if on_pull_request:
        number = payload["issue"]["number"]
        payload["issue"]["pull_request"] = {
            "url": f"https://api.github.com/repos/Codertocat/Hello-World/pulls/{number}",
            "html_url": f"https://github.com/Codertocat/Hello-World/pull/{number}",
            "diff_url": f"https://github.com/Codertocat/Hello-World/pull/{number}.diff",
            "patch_url": f"https://github.com/Codertocat/Hello-World/pull/{number}.patch",
            "merged_at": None,
        }
    return payload


def review_comment_payload(body: str, *, sender: str = "octocat") -> dict[str, Any]:
    payload = fixture("pull_request_review_comment.created.0")
    payload["comment"]["body"] = body
    payload["sender"]["login"] = sender
    payload["installation"] = {"id": 42}
    return payload
