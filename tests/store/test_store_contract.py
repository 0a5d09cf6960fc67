"""What every Store promises, whatever its database: runs, spend by month, a run's event log
with one sequence however many write at once, claims that hold across processes, and a loop
that keeps running while the database is slow."""

from __future__ import annotations

import asyncio

import pytest

from bot.plan import Spend
from bot.store.base import BudgetCap, Reservation, claimed
from bot.store.pulls import PullEvent, PullEventKind
from bot.store.spend import monthly_spend
from tests.store.backends import StoreBackend
from tests.store.conftest import Clock, record, utc

pytestmark = pytest.mark.anyio


async def test_a_saved_run_reads_back_whole(backend: StoreBackend) -> None:
    store = await backend.store()
    full = record(
        is_pull_request=True,
        agent="claude",
        pr_number=9,
        cost_usd=0.25,
        cost_source="reported",
        started_at=2.0,
        network="none",
        label="agent:fix",
    )
    await store.save_run(full)
    assert await store.get_run("r1") == full
    assert await store.get_run("r404") is None


async def test_a_comment_id_survives_a_save_that_had_not_seen_it(backend: StoreBackend) -> None:
    store = await backend.store()
    await store.save_run(record(comment_id=42))
    await store.save_run(record(status="running", agent="claude"))  # the run's copy, without it
    row = await store.get_run("r1")
    assert row is not None
    assert (row.status, row.agent, row.comment_id) == ("running", "claude", 42)


async def test_only_its_comment_leaves_a_started_run_alone(backend: StoreBackend) -> None:
    store = await backend.store()
    await store.save_run(record(status="running", agent="claude", started_at=5.0))
    await store.save_run(record(comment_id=7), only_its_comment=True)
    row = await store.get_run("r1")
    assert row is not None
    assert (row.status, row.agent, row.started_at, row.comment_id) == ("running", "claude", 5.0, 7)
    # A comment the run already has is kept; a new row is written whole.
    await store.save_run(record(comment_id=8), only_its_comment=True)
    assert (await store.get_run("r1") or record()).comment_id == 7
    await store.save_run(record(id="r2", comment_id=8), only_its_comment=True)
    assert await store.get_run("r2") == record(id="r2", comment_id=8)


async def test_runs_of_a_target_and_of_a_pull_come_oldest_first(backend: StoreBackend) -> None:
    store = await backend.store()
    await store.save_run(record(id="r3", created_at=30.0))
    await store.save_run(record(id="r1", created_at=10.0, pr_number=9))  # opened PR 9
    await store.save_run(record(id="r2", created_at=20.0, number=9, is_pull_request=True))
    await store.save_run(record(id="r4", created_at=5.0, repo="o/other"))
    assert [r.id for r in await store.runs_for_target("o/r", 3)] == ["r1", "r3"]
    assert [r.id for r in await store.runs_for_pull("o/r", 9)] == ["r1", "r2"]
    assert await store.runs_for_pull("o/other", 9) == []


async def test_recent_and_listed_runs_come_newest_first(backend: StoreBackend) -> None:
    store = await backend.store()
    for i, repo in enumerate(["o/a", "o/b", "o/a", "o/a"], start=1):
        await store.save_run(record(id=f"r{i}", repo=repo, created_at=float(i)))
    assert [r.id for r in await store.recent_runs()] == ["r4", "r3", "r2", "r1"]
    assert [r.id for r in await store.recent_runs(limit=2, repo="o/a")] == ["r4", "r3"]
    assert [r.id for r in await store.list_runs(since=2.0, until=4.0)] == ["r3", "r2"]
    assert [r.id for r in await store.list_runs(repo="o/a", since=2.0)] == ["r4", "r3"]
    assert [r.id for r in await store.list_runs(limit=1)] == ["r4"]


async def test_spend_counts_known_costs_in_the_window_by_each_filter(
    backend: StoreBackend,
) -> None:
    store = await backend.store()
    rows = [
        ("r1", "acme/app", "ann", 1.0, 10.0),
        ("r2", "acme/lib", "bob", 2.0, 20.0),
        ("r3", "other/app", "ann", 4.0, 30.0),
        ("r4", "acme/app", "ann", None, 40.0),  # unknown cost: not counted, not zero
        ("r5", "acme/app", "ann", 8.0, 50.0),  # at `until`: outside [since, until)
    ]
    for run_id, repo, who, cost, at in rows:
        await store.save_run(
            record(id=run_id, repo=repo, requester=who, cost_usd=cost, created_at=at)
        )
    assert await store.spend(since=0.0, until=50.0) == 7.0
    assert await store.spend(since=0.0) == 15.0
    assert await store.spend(since=20.0, until=50.0) == 6.0
    assert await store.spend(since=0.0, until=50.0, repo="acme/app") == 1.0
    assert await store.spend(since=0.0, until=50.0, owner="acme") == 3.0
    assert await store.spend(since=0.0, until=50.0, requester="ann") == 5.0
    assert await store.spend(since=0.0, owner="acme", requester="ann") == 9.0
    assert await store.spend(since=0.0, owner="nobody") == 0.0


async def test_the_last_second_of_january_is_january_spend(backend: StoreBackend) -> None:
    store = await backend.store()
    await store.save_run(record(id="jan", cost_usd=1.0, created_at=utc(2027, 1, 31, 23, 59, 59)))
    await store.save_run(record(id="feb", cost_usd=2.0, created_at=utc(2027, 2, 1)))
    await store.save_run(record(id="dec", cost_usd=4.0, created_at=utc(2026, 12, 31, 23, 59, 59)))
    who = {"repo": "o/r", "owner": "o", "requester": "octocat"}
    assert await monthly_spend(store, **who, now=utc(2027, 1, 15)) == Spend(1.0, 1.0, 1.0)
    assert await monthly_spend(store, **who, now=utc(2027, 2, 1)) == Spend(2.0, 2.0, 2.0)
    assert await monthly_spend(store, **who, now=utc(2026, 12, 1)) == Spend(4.0, 4.0, 4.0)


async def test_events_come_back_in_order_with_the_clock_time(
    backend: StoreBackend, clock: Clock
) -> None:
    store = await backend.store(clock=clock)
    first = await store.append_event("r1", "queued", {"job": 1})
    clock.now += 2.5
    second = await store.append_event("r1", "usage", {"tokens": {"in": 10}, "cost": 0.01})
    await store.append_event("r2", "queued")
    assert (first.seq, first.time, second.seq, second.time) == (1, clock.now - 2.5, 2, clock.now)
    assert await store.events("r1") == [first, second]
    assert await store.events("r1", after_seq=1) == [second]
    assert await store.events("r1", after_seq=2) == []
    assert [(e.seq, e.data) for e in await store.events("r2")] == [(1, {})]
    assert await store.events("r404") == []


async def test_data_that_is_not_json_is_refused_before_anything_is_written(
    backend: StoreBackend,
) -> None:
    store = await backend.store()
    with pytest.raises((TypeError, ValueError)):
        await store.append_event("r1", "bad", {"when": object()})
    with pytest.raises(ValueError):
        await store.append_event("r1", "bad", {"cost": float("nan")})
    assert await store.events("r1") == []


async def test_events_appended_at_once_by_many_writers_get_one_sequence(
    backend: StoreBackend,
) -> None:
    stores = [await backend.store(), await backend.store()]  # two processes' views

    async def writer(n: int) -> list[int]:
        return [
            (await stores[n % 2].append_event("r1", "tick", {"n": n, "i": i})).seq for i in range(5)
        ]

    seqs = await asyncio.gather(*(writer(n) for n in range(20)))
    assert sorted(s for mine in seqs for s in mine) == list(range(1, 101))
    assert all(mine == sorted(mine) for mine in seqs)  # each writer's own come in its order
    logged = await stores[0].events("r1")
    assert [e.seq for e in logged] == list(range(1, 101))
    # Every writer's events, each in the order it wrote them.
    for n in range(20):
        assert [e.data["i"] for e in logged if e.data["n"] == n] == list(range(5))


async def test_a_claim_is_refused_to_others_until_released_or_expired(
    backend: StoreBackend, clock: Clock
) -> None:
    mine, theirs = await backend.store(clock=clock), await backend.store(clock=clock)
    assert await mine.claim("status:r1", "worker-1", ttl_s=30)
    assert not await theirs.claim("status:r1", "worker-2", ttl_s=30)
    assert await theirs.claim("status:r2", "worker-2", ttl_s=30)  # keys are independent
    assert not await theirs.release("status:r1", "worker-2")  # not its to give back
    assert await mine.release("status:r1", "worker-1")
    assert await theirs.claim("status:r1", "worker-2", ttl_s=30)
    # worker-2 never releases: worker-1 gets it once the claim expires, not a moment before.
    clock.now += 29.9
    assert not await mine.claim("status:r1", "worker-1", ttl_s=30)
    clock.now += 0.1
    assert await mine.claim("status:r1", "worker-1", ttl_s=30)
    assert not await theirs.release("status:r1", "worker-2")


async def test_the_holder_claiming_again_extends_its_claim(
    backend: StoreBackend, clock: Clock
) -> None:
    mine, theirs = await backend.store(clock=clock), await backend.store(clock=clock)
    assert await mine.claim("k", "me", ttl_s=10)
    clock.now += 8
    assert await mine.claim("k", "me", ttl_s=10)
    clock.now += 8
    assert not await theirs.claim("k", "them", ttl_s=10)


async def test_claimed_blocks_run_one_at_a_time_across_stores(backend: StoreBackend) -> None:
    stores = [await backend.store(), await backend.store()]
    inside: list[str] = []
    log: list[str] = []

    async def once(n: int) -> None:
        async with claimed(stores[n % 2], "status:r1", owner=f"w{n}", ttl_s=30, poll_s=0.001):
            inside.append(f"w{n}")
            assert len(inside) == 1
            log.append(f"w{n}")
            await asyncio.sleep(0.005)
            inside.remove(f"w{n}")

    await asyncio.gather(*(once(n) for n in range(4)))
    assert sorted(log) == ["w0", "w1", "w2", "w3"]


async def test_the_event_loop_runs_while_the_store_waits_for_the_database(
    backend: StoreBackend,
) -> None:
    store = await backend.store()
    await store.get_run("r1")  # opened and warm
    release = backend.hold_writes()
    try:
        save = asyncio.create_task(store.save_run(record()))
        ticks = 0
        # A store that blocked the loop would return to it only after its write failed.
        while ticks < 5:
            await asyncio.sleep(0.01)
            ticks += 1
            assert not save.done()
    finally:
        release()
    await save
    assert ticks == 5
    assert await store.get_run("r1") == record()


# -- budgets: costs by source, history, reservations, remembered caps --------------------------


async def test_costs_are_kept_apart_by_where_they_came_from(backend: StoreBackend) -> None:
    store = await backend.store()
    rows = [
        ("r1", "acme/app", "ann", 1.0, "reported", "claude"),
        ("r2", "acme/app", "bob", 2.0, "priced", "codex"),
        ("r3", "acme/app", "ann", None, "unknown", "codex"),
        ("r4", "acme/app", "ann", None, "unknown", ""),  # refused: no agent ran, not counted
        ("r5", "other/app", "ann", 4.0, "reported", "claude"),
    ]
    for run_id, repo, who, cost, source, agent in rows:
        await store.save_run(
            record(id=run_id, repo=repo, requester=who, cost_usd=cost, cost_source=source,
                   agent=agent, created_at=10.0)
        )  # fmt: skip
    acme = await store.cost_breakdown(since=0.0, owner="acme")
    assert (acme.reported_usd, acme.priced_usd, acme.unknown_runs, acme.runs) == (1.0, 2.0, 1, 3)
    assert acme.known_usd == 3.0
    ann = await store.cost_breakdown(since=0.0, requester="ann")
    assert (ann.reported_usd, ann.priced_usd, ann.unknown_runs, ann.runs) == (5.0, 0.0, 1, 3)
    assert (await store.cost_breakdown(since=0.0, until=10.0)).runs == 0


async def test_history_is_the_newest_ended_runs_of_the_agent_alike(backend: StoreBackend) -> None:
    store = await backend.store()
    ended = {"cost_usd": 0.5, "duration_s": 10.0, "agent": "claude", "status": "success"}
    rows = [
        record(id="r1", label="agent:fix", created_at=1.0, **ended),
        record(id="r2", label="agent:fix", created_at=2.0, **{**ended, "status": "failed"}),
        record(id="r3", label="agent:fix", created_at=3.0, **{**ended, "agent": "codex"}),
        record(id="r4", label="agent:docs", created_at=4.0, **ended),
        record(id="r5", label="agent:fix", created_at=5.0, **{**ended, "cost_usd": None}),
        record(id="r6", label="agent:fix", created_at=6.0, **{**ended, "status": "refused"}),
        record(id="r7", label="agent:fix", created_at=7.0, repo="o/other", **ended),
        record(id="r8", label="agent:fix", created_at=8.0, **ended),
        record(id="c1", trigger="command", verb="retry", created_at=9.0, **ended),
        record(id="c2", trigger="command", verb="fix", created_at=10.0, **ended),
    ]
    for row in rows:
        await store.save_run(row)
    labelled = await store.history(repo="o/r", agent="claude", label="agent:fix", verb="fix",
                                   limit=20)  # fmt: skip
    assert [r.id for r in labelled] == ["r8", "r2", "r1"]
    assert [
        r.id
        for r in await store.history(
            repo="o/r", agent="claude", label="agent:fix", verb="fix", limit=2
        )
    ] == ["r8", "r2"]
    retried = await store.history(repo="o/r", agent="claude", label="", verb="retry", limit=20)
    assert [r.id for r in retried] == ["c1"]


async def test_reservations_hold_the_rest_of_a_cap_until_released_or_expired(
    backend: StoreBackend,
) -> None:
    store = await backend.store()

    def held_for(run_id: str, repo: str, who: str, amount: float) -> Reservation:
        owner = repo.split("/", maxsplit=1)[0]
        return Reservation(run_id=run_id, repo=repo, owner=owner, requester=who,
                           amount_usd=amount, created_at=100.0, expires_at=200.0)  # fmt: skip

    await store.reserve(held_for("r1", "acme/app", "ann", 1.0))
    await store.reserve(held_for("r2", "acme/lib", "bob", 2.0))
    await store.reserve(held_for("r3", "other/app", "ann", 4.0))
    assert await store.held(now=150.0, owner="acme") == 3.0
    assert await store.held(now=150.0, repo="acme/app") == 1.0
    assert await store.held(now=150.0, requester="ann") == 5.0
    # What the run has spent so far counts as spend, so only the rest of its cap is held.
    await store.save_run(record(id="r2", repo="acme/lib", cost_usd=0.5, created_at=100.0))
    assert await store.held(now=150.0, owner="acme") == 2.5
    await store.save_run(record(id="r1", repo="acme/app", cost_usd=1.25, created_at=100.0))
    assert await store.held(now=150.0, repo="acme/app") == 0.0  # over its cap: never negative
    # A run reserving again (its job retried) replaces its reservation.
    await store.reserve(held_for("r2", "acme/lib", "bob", 3.0))
    assert await store.held(now=150.0, repo="acme/lib") == 2.5
    assert await store.release_reservation("r2")
    assert not await store.release_reservation("r2")
    assert await store.held(now=150.0, owner="acme") == 0.0
    # A dead worker's reservation stops counting at its expiry, and can be swept.
    assert await store.held(now=200.0, requester="ann") == 0.0
    assert await store.expire_reservations(now=200.0) == 2
    assert await store.expire_reservations(now=200.0) == 0


async def test_the_last_cap_seen_for_each_scope_is_remembered(backend: StoreBackend) -> None:
    store = await backend.store()
    await store.record_cap(BudgetCap(scope="repo", name="o/r", limit_usd=50.0,
                                     source="repo file .agents.yml:3:3", seen_at=1.0))  # fmt: skip
    await store.record_cap(BudgetCap(scope="org", name="o", limit_usd=None, source="none",
                                     seen_at=1.0))  # fmt: skip
    await store.record_cap(BudgetCap(scope="repo", name="o/r", limit_usd=80.0,
                                     source="enforce", seen_at=2.0))  # fmt: skip
    assert await store.budget_caps() == [
        BudgetCap(scope="org", name="o", limit_usd=None, source="none", seen_at=1.0),
        BudgetCap(scope="repo", name="o/r", limit_usd=80.0, source="enforce", seen_at=2.0),
    ]


async def test_a_run_reads_back_its_cap_and_label(backend: StoreBackend) -> None:
    store = await backend.store()
    row = record(label="agent:fix", cost_cap_usd=2.5, cost_cap_by="`budget.per_run_usd`")
    await store.save_run(row)
    assert await store.get_run("r1") == row


def pull_fact(key: str, *, number: int = 7, at: float = 10.0, repo: str = "o/r") -> PullEvent:
    data = {"sha": key, "by_baton": False, "pusher": "octocat"}
    return PullEvent(repo=repo, number=number, key=key, kind=PullEventKind.PUSHED, at=at, data=data)


async def test_a_pull_fact_is_written_once_per_key_and_reads_back_whole(
    backend: StoreBackend,
) -> None:
    store = await backend.store()
    fact = pull_fact("a1")
    assert await store.add_pull_event(fact)
    # A redelivered webhook or a retried job: the first writing stands, nothing is doubled.
    assert not await store.add_pull_event(pull_fact("a1", at=99.0))
    assert await store.pull_events() == [fact]
    # Keys belong to a repository: the same key elsewhere is another fact.
    assert await store.add_pull_event(pull_fact("a1", repo="o/other"))


async def test_pull_facts_come_oldest_first_and_filter_by_repo_pull_and_time(
    backend: StoreBackend, clock: Clock
) -> None:
    writer = await backend.store(clock=clock)
    for key, number, at in [("c", 7, 30.0), ("a", 7, 10.0), ("b", 8, 20.0), ("d", 7, 20.0)]:
        clock.now += 1
        await writer.add_pull_event(pull_fact(key, number=number, at=at))
    await writer.add_pull_event(pull_fact("z", repo="o/other", at=1.0))
    reader = await backend.store()
    assert [e.key for e in await reader.pull_events(repo="o/r")] == ["a", "b", "d", "c"]
    assert [e.key for e in await reader.pull_events(repo="o/r", number=7)] == ["a", "d", "c"]
    assert [e.key for e in await reader.pull_events(since=20.0)] == ["b", "d", "c"]
    assert [e.key for e in await reader.pull_events()] == ["z", "a", "b", "d", "c"]


async def test_prune_deletes_old_events_removals_and_expired_claims_only(
    backend: StoreBackend, clock: Clock
) -> None:
    store = await backend.store(clock=clock)
    await store.save_run(record(id="r1"))
    old = await store.append_event("r1", "queued")
    clock.now += 100
    await store.record_removed(["o/gone"], installation_id=7, reason="uninstalled")
    assert await store.claim("short", "me", ttl_s=10)
    assert await store.claim("long", "me", ttl_s=1000)
    clock.now += 50
    kept = await store.append_event("r1", "started")
    await store.record_removed(["o/later"], installation_id=7, reason="uninstalled")

    pruned = await store.prune(events_before=old.time + 1, removed_repos_before=clock.now - 1)

    assert (pruned.events, pruned.removed_repos, pruned.claims) == (1, 1, 1)
    assert await store.events("r1") == [kept]
    assert [r.repo for r in await store.removed_repos()] == ["o/later"]
    assert await store.get_run("r1") is not None  # the ledger is never pruned
    assert not await (await backend.store(clock=clock)).claim("long", "other", ttl_s=10)


async def test_removed_repositories_are_remembered_with_their_latest_reason(
    backend: StoreBackend, clock: Clock
) -> None:
    store = await backend.store(clock=clock)
    await store.record_removed(["o/a", "o/b"], installation_id=1, reason="suspended")
    first = clock.now
    clock.now += 10
    await store.record_removed(["o/a"], installation_id=1, reason="uninstalled")
    await store.record_removed(["o/c"], installation_id=2, reason="deselected")

    rows = await store.removed_repos()
    removed = [(r.repo, r.installation_id, r.reason, r.removed_at) for r in rows]
    assert removed == [
        ("o/b", 1, "suspended", first),
        ("o/a", 1, "uninstalled", clock.now),
        ("o/c", 2, "deselected", clock.now),
    ]
    assert [r.repo for r in await store.removed_repos(since=clock.now)] == ["o/a", "o/c"]


async def test_purging_an_installation_deletes_only_its_repositories_runs(
    backend: StoreBackend,
) -> None:
    store = await backend.store()
    rows = [("r1", "o/a"), ("r2", "o/B"), ("r3", "o/kept"), ("r4", "acme/x"), ("r5", "acme2/y")]
    for at, (run_id, repo) in enumerate(rows):
        await store.save_run(record(id=run_id, repo=repo, cost_usd=1.0, created_at=float(at)))
        await store.append_event(run_id, "queued")
    await store.record_removed(["o/a", "o/b"], installation_id=5, reason="deselected")
    await store.record_removed(["o/kept"], installation_id=6, reason="deselected")
    await store.record_removed(["acme/*"], installation_id=7, reason="uninstalled")

    assert await store.purge_installation(5) == 2  # GitHub's names ignore case
    assert await store.purge_installation(7) == 1  # all of the account's, and only those

    assert [r.id for r in await store.recent_runs()] == ["r5", "r3"]
    assert await store.events("r1") == []
    assert len(await store.events("r3")) == 1
    assert await store.purge_installation(5) == 0
