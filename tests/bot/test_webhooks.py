"""Webhook intake: signature fails closed, bad input is 4xx, duplicates and noise start nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from bot.database import open_database
from bot.intake import intake_router
from bot.queue import JobStatus
from bot.queue.sqlite import SQLiteJobQueue
from bot.webhooks import WebhookEndpoint, signature_ok
from config.settings import load_settings
from tests.webhook_helpers import all_fixtures, comment_payload, headers, labeled_payload, sign

SECRET = b"It's a Secret to Everybody"

pytestmark = pytest.mark.anyio


@pytest.fixture
async def queue() -> AsyncIterator[SQLiteJobQueue]:
    conn = open_database("sqlite:///:memory:")
    # Not started: jobs stay queued so the tests can read exactly what intake enqueued.
    yield SQLiteJobQueue(conn)
    conn.close()


@pytest.fixture
def client(queue: SQLiteJobQueue) -> httpx.AsyncClient:
    settings = load_settings({"BATON_WEBHOOK_SECRET": SECRET.decode()})
    endpoint = WebhookEndpoint(
        settings=settings, router=intake_router(), queue=queue, max_body=64 * 1024
    )
    app = Starlette(routes=[Route("/webhooks", endpoint.handle, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://baton")


async def post(client: httpx.AsyncClient, event: str, payload: Any, **kw: Any) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post("/webhooks", content=body, headers=headers(SECRET, event, body, **kw))


async def queued(queue: SQLiteJobQueue) -> list[dict[str, Any]]:
    return [j.args for j in await queue.list_jobs(status=JobStatus.QUEUED)]


def test_github_documented_signature_vector() -> None:
    # The example from GitHub's "Validating webhook deliveries" page.
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_ok(SECRET, b"Hello, World!", header)
    assert not signature_ok(SECRET, b"Hello, World?", header)
    assert not signature_ok(b"", b"Hello, World!", header)
    assert not signature_ok(SECRET, b"Hello, World!", header.replace("sha256=", "sha1="))


async def test_label_enqueues_one_run(client: httpx.AsyncClient, queue: SQLiteJobQueue) -> None:
    resp = await post(client, "issues", labeled_payload())
    assert resp.status_code == 202
    jobs = await queued(queue)
    assert len(jobs) == 1
    assert jobs[0]["repo"] == "Codertocat/Hello-World"
    assert jobs[0]["label"] == "agent:fix"
    assert jobs[0]["installation_id"] == 42
    assert jobs[0]["requester"] == "octocat"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda h: h.pop("X-Hub-Signature-256"), id="missing"),
        pytest.param(lambda h: h.update({"X-Hub-Signature-256": "sha256=" + "0" * 64}), id="wrong"),
        pytest.param(
            lambda h: h.update({"X-Hub-Signature-256": h["X-Hub-Signature-256"][7:]}),
            id="no-prefix",
        ),
        pytest.param(
            lambda h: h.update({"X-Hub-Signature-256": sign(b"other", b"{}")}), id="other-secret"
        ),
    ],
)
async def test_bad_signature_is_401_and_stores_nothing(
    client: httpx.AsyncClient, queue: SQLiteJobQueue, mangle: Any
) -> None:
    body = json.dumps(labeled_payload()).encode()
    hdrs = headers(SECRET, "issues", body, delivery="d-1")
    mangle(hdrs)
    resp = await client.post("/webhooks", content=body, headers=hdrs)
    assert resp.status_code == 401
    assert await queued(queue) == []
    # Nothing was recorded either: the same delivery, signed properly, still starts a run.
    assert (await post(client, "issues", labeled_payload(), delivery="d-1")).status_code == 202
    assert len(await queued(queue)) == 1


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    body = b'{"action": "labeled", "label": {"name": "agent:fix"'
    resp = await client.post("/webhooks", content=body, headers=headers(SECRET, "issues", body))
    assert resp.status_code == 400


async def test_deliveries_baton_cannot_act_on_are_acknowledged_unread(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    """No handler, or no trigger word in the bytes: 202 without deserializing the payload."""
    for event, body in [
        ("star", b"not json at all"),
        ("issues", b'{"action":"opened", "broken'),
        ("issue_comment", b'{"action":"created","comment":{"body":"LGTM"'),
    ]:
        resp = await client.post("/webhooks", content=body, headers=headers(SECRET, event, body))
        assert resp.status_code == 202, event
    assert await queued(queue) == []


async def test_non_object_json_is_400(client: httpx.AsyncClient) -> None:
    resp = await post(client, "issues", [1, 2, 3])
    assert resp.status_code == 400


async def test_form_encoded_is_415_with_the_fix(client: httpx.AsyncClient) -> None:
    body = b"payload=%7B%7D"
    hdrs = headers(SECRET, "issues", body)
    hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    resp = await client.post("/webhooks", content=body, headers=hdrs)
    assert resp.status_code == 415
    assert "application/json" in resp.json()["error"]


async def test_oversized_body_is_413(client: httpx.AsyncClient, queue: SQLiteJobQueue) -> None:
    payload = labeled_payload()
    payload["issue"]["body"] = "x" * (70 * 1024)
    resp = await post(client, "issues", payload)
    assert resp.status_code == 413
    assert await queued(queue) == []


async def test_missing_event_header_is_400(client: httpx.AsyncClient) -> None:
    body = b"{}"
    hdrs = headers(SECRET, "issues", body)
    del hdrs["X-GitHub-Event"]
    assert (await client.post("/webhooks", content=body, headers=hdrs)).status_code == 400


async def test_ping_is_answered(client: httpx.AsyncClient) -> None:
    resp = await post(client, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert resp.status_code == 200
    assert resp.json()["pong"] is True


async def test_same_delivery_twice_is_one_run(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    first = await post(client, "issues", labeled_payload(), delivery="same-guid")
    second = await post(client, "issues", labeled_payload(), delivery="same-guid")
    assert first.status_code == second.status_code == 202
    assert second.json() == {"duplicate": True}
    assert len(await queued(queue)) == 1


async def test_relabel_while_queued_coalesces(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    await post(client, "issues", labeled_payload())
    await post(client, "issues", labeled_payload())
    assert len(await queued(queue)) == 1


async def test_no_installation_is_ignored(client: httpx.AsyncClient, queue: SQLiteJobQueue) -> None:
    resp = await post(client, "issues", labeled_payload(installation=None))
    assert resp.status_code == 202
    assert "no installation" in resp.json()["ignored"]
    assert await queued(queue) == []


@pytest.mark.parametrize("label", ["bug", "agent:", "agents:fix"])
async def test_other_labels_start_nothing(
    client: httpx.AsyncClient, queue: SQLiteJobQueue, label: str
) -> None:
    resp = await post(client, "issues", labeled_payload(label=label))
    assert resp.status_code == 202
    assert await queued(queue) == []


async def test_label_by_baton_itself_is_ignored(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    await post(client, "issues", labeled_payload(sender="baton[bot]"))
    assert await queued(queue) == []


async def test_unknown_events_and_actions_are_2xx(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    assert (await post(client, "star", {"action": "created"})).status_code == 202
    payload = labeled_payload()
    payload["action"] = "transferred"
    assert (await post(client, "issues", payload)).status_code == 202
    assert await queued(queue) == []


async def test_payload_missing_routed_fields_is_ignored_not_500(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    payload = labeled_payload()
    del payload["issue"]["number"]
    resp = await post(client, "issues", payload)
    assert resp.status_code == 202
    assert "issue.number" in resp.json()["ignored"]
    assert await queued(queue) == []


async def test_every_real_github_example_is_accepted(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    """GitHub's own example payloads never produce an error; only trigger labels start runs."""
    for event, stem, payload in all_fixtures():
        payload.setdefault("installation", {"id": 7})
        resp = await post(client, event, payload)
        assert resp.status_code in {200, 202}, (stem, resp.text)
    # The examples' labels are `bug`: none of them is a trigger.
    assert await queued(queue) == []


async def test_other_label_on_an_issue_carrying_a_trigger_is_read_and_starts_nothing(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    """The bytes mention the prefix (the issue's labels), so the payload is read, not skipped."""
    payload = labeled_payload(label="bug")
    payload["issue"]["labels"].append({"id": 1, "name": "agent:fix", "color": "ededed"})
    resp = await post(client, "issues", payload)
    assert resp.status_code == 202
    assert resp.json() == {"ignored": "not a trigger label"}
    assert await queued(queue) == []


async def test_a_label_that_is_not_an_object_is_ignored_with_where(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    payload = labeled_payload()
    payload["label"] = "agent:fix"
    resp = await post(client, "issues", payload)
    assert resp.status_code == 202
    assert "payload not understood at label" in resp.json()["ignored"]
    assert await queued(queue) == []


async def test_a_comment_without_a_command_is_ignored_after_reading_only_its_text(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    payload = comment_payload("see /agent docs, LGTM")
    del payload["issue"]  # never read: the comment's text settles it
    resp = await post(client, "issue_comment", payload)
    assert resp.status_code == 202
    assert resp.json() == {"ignored": "no command in the comment"}
    assert await queued(queue) == []


async def test_a_command_comment_enqueues_with_the_delivery_id(
    client: httpx.AsyncClient, queue: SQLiteJobQueue
) -> None:
    resp = await post(client, "issue_comment", comment_payload("/agent retry"), delivery="d-9")
    assert resp.status_code == 202
    assert len(resp.json()["queued"]) == 1
    (job,) = await queued(queue)
    assert job["delivery_id"] == "d-9"
    assert job["verb"] == "retry"
