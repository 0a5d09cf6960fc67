"""Intake while operating: a rotated secret (new and old accepted), the installation lifecycle
events queued as offboarding jobs, and a database that does not answer (503, nothing lost)."""

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
from bot.queue import JobQueue, JobStatus
from bot.queue.postgres import PostgresJobQueue
from bot.queue.sqlite import SQLiteJobQueue
from bot.store.pgpool import make_pool, open_pool
from bot.webhooks import WebhookEndpoint
from config.settings import load_settings
from tests.postgres import ADMIN_URL, database
from tests.webhook_helpers import headers, labeled_payload

pytestmark = pytest.mark.anyio
NEW, OLD = "the-new-secret", "the-old-secret"


def client_for(queue: JobQueue, secret: str) -> httpx.AsyncClient:
    settings = load_settings({"BATON_WEBHOOK_SECRET": secret})
    endpoint = WebhookEndpoint(settings=settings, router=intake_router(), queue=queue)
    app = Starlette(routes=[Route("/webhooks", endpoint.handle, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://baton")


async def post(
    client: httpx.AsyncClient, event: str, payload: Any, *, secret: str, delivery: str
) -> httpx.Response:
    body = json.dumps(payload).encode()
    signed = headers(secret.encode(), event, body, delivery=delivery)
    return await client.post("/webhooks", content=body, headers=signed)


@pytest.fixture
async def queue() -> AsyncIterator[SQLiteJobQueue]:
    conn = open_database("sqlite:///:memory:")
    yield SQLiteJobQueue(conn)
    conn.close()


async def test_during_a_rotation_both_secrets_are_accepted_and_no_other(
    queue: SQLiteJobQueue,
) -> None:
    async with client_for(queue, f"{NEW}, {OLD}") as client:
        by_new = await post(client, "issues", labeled_payload(), secret=NEW, delivery="d1")
        by_old = await post(client, "issues", labeled_payload(), secret=OLD, delivery="d2")
        forged = await post(client, "issues", labeled_payload(), secret="guess", delivery="d3")
    assert (by_new.status_code, by_old.status_code, forged.status_code) == (202, 202, 401)
    # Both were taken (the second joins the first: the same label on the same issue).
    assert by_new.json()["queued"] == by_old.json()["queued"] == [1]
    assert len(await queue.list_jobs(status=JobStatus.QUEUED)) == 1


def installation_payload(action: str) -> dict[str, Any]:
    return {
        "action": action,
        "installation": {"id": 42, "account": {"login": "Codertocat", "id": 1}},
        "repositories": [{"id": 1, "full_name": "Codertocat/Hello-World", "name": "Hello-World"}],
        "sender": {"login": "Codertocat", "id": 1},
    }


@pytest.mark.parametrize(
    ("action", "reason"), [("deleted", "uninstalled"), ("suspend", "suspended")]
)
async def test_an_installation_that_goes_queues_its_offboarding(
    queue: SQLiteJobQueue, action: str, reason: str
) -> None:
    async with client_for(queue, NEW) as client:
        done = await post(
            client, "installation", installation_payload(action), secret=NEW, delivery="d1"
        )
    assert done.status_code == 202
    [job] = await queue.list_jobs()
    assert (job.task, job.lock) == ("offboard", None)  # never waits behind a run
    assert job.args == {
        "installation_id": 42,
        "owner": "Codertocat",
        "repos": [],  # all of the account's: the payload's list may be partial or missing
        "reason": reason,
    }


async def test_repositories_taken_from_an_installation_queue_their_offboarding(
    queue: SQLiteJobQueue,
) -> None:
    payload = {
        "action": "removed",
        "installation": {"id": 42, "account": {"login": "Codertocat", "id": 1}},
        "repository_selection": "selected",
        "repositories_added": [],
        "repositories_removed": [{"id": 1, "full_name": "Codertocat/Hello-World"}],
        "sender": {"login": "Codertocat", "id": 1},
    }
    async with client_for(queue, NEW) as client:
        done = await post(client, "installation_repositories", payload, secret=NEW, delivery="d")
        added = {**payload, "action": "added"}
        ignored = await post(client, "installation_repositories", added, secret=NEW, delivery="e")
    assert (done.status_code, ignored.status_code) == (202, 202)
    [job] = await queue.list_jobs()
    assert job.args["repos"] == ["Codertocat/Hello-World"]
    assert job.args["reason"] == "removed from the installation"


async def test_a_database_that_does_not_answer_is_503_so_github_can_redeliver() -> None:
    with database() as url:
        pool = make_pool(url, max_size=2, wait_s=2)
        await open_pool(pool)
        queue = PostgresJobQueue(pool)
        try:
            async with client_for(queue, NEW) as client:
                first = await post(client, "issues", labeled_payload(), secret=NEW, delivery="d1")
                assert first.status_code == 202
                name = url.rsplit("/", 1)[1]
                # The database goes away under the server (its connections cut).
                import psycopg  # noqa: PLC0415

                with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'.encode())
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid != pg_backend_pid()",
                        (name,),
                    )
                gone = await post(client, "issues", labeled_payload(), secret=NEW, delivery="d2")
                with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'.encode())
                redelivered = await post(
                    client, "issues", labeled_payload(), secret=NEW, delivery="d2"
                )
        finally:
            await pool.close()
    assert gone.status_code == 503
    assert gone.json() == {"error": "the database is unavailable; redeliver this later"}
    # GitHub's redelivery (the same delivery id) is taken once the database is back.
    assert redelivered.status_code == 202
    assert redelivered.json()["queued"]
