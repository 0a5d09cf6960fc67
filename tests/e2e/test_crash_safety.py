"""Crash safety on PostgreSQL, with real processes: a worker killed with SIGKILL mid-run (its
runs taken back within the heartbeat bound, nothing done twice), a worker stopped with SIGTERM
(its run finished within the grace, or resumed by another), and PostgreSQL restarted under load
(a private cluster: servers and workers carry on, no webhook acknowledged and lost)."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import re
import signal
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest

from tests.e2e.cluster import Cluster, Proc, wait_for
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE
from tests.postgres import database, private_cluster

if TYPE_CHECKING:
    from pathlib import Path

    from bot.stack import Stack
    from bot.store.base import RunRecord

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
OWNER = "octocat"
RECOVERY_S = 6.0  # BATON_WORKER_RECOVERY_S in these tests (60 s in production)
STATUS = re.compile(r"<!-- baton:status run=(r[\w-]+) -->")
WORKER_ID = re.compile(r"worker (\d+) is taking jobs")


def agent(seconds: float, tmp_path: Path) -> str:
    """An agent that works `seconds`, then applies the issue's fix."""
    script = tmp_path / f"agent_{seconds:g}.py"
    script.write_text(
        "import pathlib, time\n"
        f"time.sleep({seconds})\n"
        "p = pathlib.Path('calc.py')\n"
        "p.write_text(p.read_text().replace('return a - b', 'return a + b', 1))\n"
        "print('fixed add()')\n"
    )
    return (
        "version: 1\nagents:\n"
        f"  slow: {{adapter: command, command: [{sys.executable}, {script}], model: none}}\n"
        "routes:\n  - agent: slow\n"
    )


async def issues(stack: Stack, yml: str, count: int, repo: str = "calc") -> list[int]:
    await stack.create_repo(OWNER, repo, {"calc.py": CALC, ".agents.yml": yml})
    return [
        await stack.open_issue(OWNER, f"{OWNER}/{repo}", f"{ISSUE_TITLE} {n}", ISSUE_BODY)
        for n in range(count)
    ]


async def label_all(stack: Stack, numbers: list[int], repo: str = "calc") -> None:
    for n in numbers:
        await stack.label(OWNER, f"{OWNER}/{repo}", n, "agent:fix")


async def ended(cluster: Cluster, count: int, timeout_s: float = 240) -> list[RunRecord]:
    store = await cluster.store()
    try:

        async def done() -> bool:
            rows = await store.list_runs()
            return sum(1 for r in rows if r.finished_at is not None) >= count

        await wait_for(done, timeout_s=timeout_s, what=f"{count} runs ended")
        return await store.list_runs()
    finally:
        await store.close()


async def assert_each_run_once(
    cluster: Cluster, rows: list[RunRecord], numbers: list[int], repo: str = "calc"
) -> None:
    """One end and at most one push per run, one status comment per run, one PR per issue
    whose branch holds one commit: nothing was done twice."""
    full = f"{OWNER}/{repo}"
    store = await cluster.store()
    try:
        for row in rows:
            kinds = [e.kind for e in await store.events(row.id)]
            assert kinds.count("ended") == 1, (row.id, kinds)
            assert kinds.count("pushed") <= 1, (row.id, kinds)
    finally:
        await store.close()
    seen: list[str] = []
    for number in numbers:
        for comment in await cluster.stack.comments(full, number):
            seen += STATUS.findall(comment["body"])
    assert collections.Counter(seen) == dict.fromkeys((r.id for r in rows), 1)
    pulls = await cluster.stack.pulls(full)
    assert len(pulls) == len({p["head"]["ref"] for p in pulls}) == len(numbers)
    async with cluster.stack.user(OWNER) as client:
        for pr in pulls:
            commits = (await client.get(f"repos/{full}/pulls/{pr['number']}/commits")).json()
            assert len(commits) == 1, pr["head"]["ref"]


def running_on(url: str, worker_id: int) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %s",
            (worker_id,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def taken_back_at(url: str, job_ids: list[int]) -> dict[int, float]:
    """When each job went back to the queue (procrastinate's event, in epoch seconds)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT job_id, extract(epoch FROM min(at)) FROM procrastinate_events "
            "WHERE job_id = ANY(%s) AND type = 'deferred_for_retry' GROUP BY job_id",
            (job_ids,),
        ).fetchall()
    return {int(j): float(at) for j, at in rows}


def worker_id(proc: Proc) -> int:
    match = WORKER_ID.search(proc.log())
    assert match is not None, proc.log()[-2000:]
    return int(match.group(1))


async def test_a_worker_killed_mid_run_has_its_runs_taken_back_within_the_bound(
    tmp_path: Path,
) -> None:
    settings = {"worker_recovery_s": str(RECOVERY_S), "job_retry_base_s": "0.5"}
    with database() as url:
        async with Cluster(
            workdir=tmp_path, database_url=url, servers=1, workers=2, concurrency=2,
            settings=settings,
        ) as cluster:  # fmt: skip
            numbers = await issues(cluster.stack, agent(4, tmp_path), 6)
            victim = cluster.worker_procs[0]
            victim_id = worker_id(victim)
            await label_all(cluster.stack, numbers)

            async def victim_busy() -> bool:
                return len(running_on(url, victim_id)) == 2

            await wait_for(victim_busy, timeout_s=60, what="the first worker running two runs")
            await asyncio.sleep(1.5)  # in the middle of its agents' work
            interrupted = running_on(url, victim_id)
            killed_at = time.time()
            victim.kill_group()  # power loss: the worker and its agents, no goodbye
            rows = await ended(cluster, len(numbers))
            back = taken_back_at(url, interrupted)
            await assert_each_run_once(cluster, rows, numbers)
    assert sorted(back) == sorted(interrupted)
    for job_id, at in back.items():
        assert at - killed_at <= RECOVERY_S, (job_id, at - killed_at)
    # Taken back from what GitHub already had: completed, not failed.
    assert collections.Counter(r.status for r in rows) == {"success": len(numbers)}


@pytest.mark.parametrize(
    ("agent_s", "grace_s", "finishes_there"),
    [(4.0, 30.0, True), (12.0, 1.0, False)],
    ids=["finishes-within-the-grace", "resumed-by-another-worker"],
)
async def test_sigterm_to_a_worker_mid_run_finishes_or_hands_back_its_run(
    tmp_path: Path, agent_s: float, grace_s: float, finishes_there: bool
) -> None:
    settings = {"shutdown_grace_s": str(grace_s), "worker_recovery_s": str(RECOVERY_S)}
    with database() as url:
        async with Cluster(
            workdir=tmp_path, database_url=url, servers=1, workers=1, concurrency=1,
            settings=settings,
        ) as cluster:  # fmt: skip
            [number] = await issues(cluster.stack, agent(agent_s, tmp_path), 1)
            first = cluster.worker_procs[0]
            await label_all(cluster.stack, [number])
            await wait_for(
                lambda: _async(bool(running_on(url, worker_id(first)))),
                timeout_s=60,
                what="the run started",
            )
            await asyncio.sleep(1.0)
            first.signal(signal.SIGTERM)
            # Another worker is there to take what is handed back.
            second = cluster.add_worker("worker-second")
            second.start()
            code = await first.wait(grace_s + 30)
            rows = await ended(cluster, 1)
            await assert_each_run_once(cluster, rows, [number])
            jobs = _jobs(url)
            second_log = second.log()
    assert code == 0  # a clean stop, not a crash
    [row] = rows
    assert row.status == "success"
    [(job_id, attempts)] = jobs
    assert attempts == 1  # a shutdown's hand-back does not count as an attempt
    ran_second = f"job {job_id} (run): attempt 1/" in second_log
    assert ran_second is not finishes_there


async def test_postgresql_restarted_under_load_loses_no_webhook_and_no_run(
    tmp_path: Path,
) -> None:
    # GitHub's redelivery, asked by Baton itself (its catch-up), brings back what a 503 refused.
    settings = {"redeliver_interval_s": "2", "worker_recovery_s": "30"}
    with private_cluster() as pg:
        async with Cluster(
            workdir=tmp_path, database_url=pg.url, servers=2, workers=2, concurrency=2,
            settings=settings,
        ) as cluster:  # fmt: skip
            stack = cluster.stack
            demo = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"
            numbers = await issues(stack, demo, 16)
            await label_all(stack, numbers[:8])
            readiness: list[int] = []
            server = cluster.server_procs[0]
            ready_url = f"http://127.0.0.1:{_port(server)}/readyz"
            pg.stop()
            try:
                # Labels keep coming while the database is away.
                await label_all(stack, numbers[8:])
                await wait_for(
                    lambda: _async(any(d.status_code == 503 for d in stack.hub.deliveries)),
                    timeout_s=60,
                    what="a delivery refused while the database is away",
                )
                async with httpx.AsyncClient(timeout=5) as client:
                    readiness.append((await client.get(ready_url)).status_code)
            finally:
                pg.start()
            async with httpx.AsyncClient(timeout=5) as client:
                await wait_for(lambda: _ready(client, ready_url), timeout_s=60, what="ready again")
            rows = await ended(cluster, len(numbers), timeout_s=300)
            await assert_each_run_once(cluster, rows, numbers)
            refused = [d for d in stack.hub.deliveries if d.status_code == 503]
            alive = [p.name for p in [*cluster.server_procs, *cluster.worker_procs] if p.alive()]
    assert readiness == [503]
    assert collections.Counter(r.status for r in rows) == {"success": len(numbers)}
    assert refused, "the outage never refused a delivery: it did not test the 503 path"
    assert len(alive) == 4  # every process rode out the restart


async def _ready(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(url)).status_code == 200
    except httpx.TransportError:
        return False


async def _async(value: bool) -> bool:
    return value


def _port(proc: Proc) -> int:
    return int(proc.argv[proc.argv.index("--port") + 1])


def _jobs(url: str) -> list[tuple[int, int]]:
    with psycopg.connect(url) as conn:
        rows: list[Any] = conn.execute(
            "SELECT id, attempts FROM procrastinate_jobs WHERE task_name = 'run' ORDER BY id"
        ).fetchall()
    return [(int(i), int(a)) for i, a in rows]


async def test_sigterm_to_a_server_lets_a_delivery_in_flight_finish(tmp_path: Path) -> None:
    with database() as url:
        async with Cluster(workdir=tmp_path, database_url=url, servers=1, workers=0) as cluster:
            stack = cluster.stack
            [number] = await issues(stack, agent(1, tmp_path), 1)
            server = cluster.server_procs[0]
            payload = _labeled_payload(stack, number)
            body = json.dumps(payload).encode()
            head = _request_head(stack, body)
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
            # Half the body is in when the server is told to stop.
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            await asyncio.sleep(0.5)
            server.signal(signal.SIGTERM)
            await asyncio.sleep(1.0)
            writer.write(body[len(body) // 2 :])
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 30)
            writer.close()
            code = await server.wait(30)
            queued = await _queued_jobs(url)
            log = server.log()
    assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
    # uvicorn drains, then ends by the signal it was sent (exit 143): a stop, not a crash.
    assert code in {0, -signal.SIGTERM}
    assert "Traceback" not in log
    assert queued == 1  # acknowledged and stored: nothing lost by the stop


def _labeled_payload(stack: Stack, number: int) -> dict[str, Any]:
    """What GitHub sends for the label, as the emulator made it for this issue."""
    hub = stack.hub
    deliveries = [d for d in hub.deliveries if d.event == "issues" and d.action == "opened"]
    opened = dict(deliveries[-1].payload)
    label = {"id": 1, "name": "agent:fix", "color": "ededed", "default": False}
    return {**opened, "action": "labeled", "label": label}


def _request_head(stack: Stack, body: bytes) -> bytes:
    signature = "sha256=" + hmac.new(stack.secret.encode(), body, hashlib.sha256).hexdigest()
    lines = [
        "POST /webhooks HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-GitHub-Event: issues",
        f"X-GitHub-Delivery: {uuid.uuid4()}",
        f"X-Hub-Signature-256: {signature}",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _queued_jobs(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'run'")
        found = row.fetchone()
    assert found is not None
    return int(found[0])


async def test_agent_cancel_reaches_a_run_on_another_worker_and_ends_its_processes(
    tmp_path: Path,
) -> None:
    marker = f"baton-cancel-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "busy_agent.py"
    # The agent starts a grandchild, then works far longer than the test waits.
    script.write_text(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])\n"
        "time.sleep(300)\n"
    )
    yml = (
        "version: 1\nagents:\n"
        f"  busy: {{adapter: command, command: [{sys.executable}, {script}], model: none}}\n"
        "routes:\n  - agent: busy\n"
    )
    with database() as url:
        # One job at a time each: the cancel command is answered by the other worker.
        async with Cluster(
            workdir=tmp_path, database_url=url, servers=1, workers=2, concurrency=1
        ) as cluster:
            stack = cluster.stack
            [number] = await issues(stack, yml, 1)
            await label_all(stack, [number])
            await wait_for(
                lambda: _async(_processes(marker) > 0), timeout_s=60, what="the agent at work"
            )
            busy = [w for w in cluster.worker_procs if running_on(url, worker_id(w))]
            await stack.comment(OWNER, f"{OWNER}/calc", number, "/agent cancel")
            rows = await ended(cluster, 1, timeout_s=60)
            reply = await _reply(stack, number)
            idle = [w for w in cluster.worker_procs if w not in busy]
            answered_by = [w.name for w in idle if "(control): attempt 1/" in w.log()]
            left = _processes(marker)
            pulls = await stack.pulls(f"{OWNER}/calc")
    [row] = rows
    assert row.status == "cancelled"
    assert "Cancelled" in reply
    assert answered_by == [idle[0].name]  # the command was taken by the other worker
    assert left == 0  # the agent's whole process tree is gone
    assert pulls == []  # nothing was pushed


def _processes(marker: str) -> int:
    # -ww: piped, ps cuts lines at 80 columns otherwise (the marker comes last).
    argv = ["ps", "-ww", "-eo", "args"]
    listed = subprocess.run(argv, capture_output=True, text=True, check=True)
    return sum(1 for line in listed.stdout.splitlines() if marker in line)


async def _reply(stack: Stack, number: int) -> str:
    async def answered() -> bool:
        return any(
            "<!-- baton:reply -->" in c["body"]
            for c in await stack.comments(f"{OWNER}/calc", number)
        )

    await wait_for(answered, timeout_s=60, what="the cancel command's reply")
    replies = [
        str(c["body"])
        for c in await stack.comments(f"{OWNER}/calc", number)
        if "<!-- baton:reply -->" in c["body"]
    ]
    return replies[-1]
