"""What keeps a deployment tidy for months, done by every worker process in the background:

- once an hour, one `cleanup` job for the whole deployment (the hour's delivery id dedupes the
  submissions of every worker) deletes finished jobs, webhook deliveries GitHub can no longer
  redeliver, and run events past their retention; the ledger's rows are never deleted here;
- every few minutes each machine drops its mirrors of repositories an installation lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.offboard import remove_mirrors
from bot.queue import NewJob
from bot.store.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.queue import JobQueue, PurgedJobs
    from bot.run.services import Services
    from bot.store.base import Pruned, Store
    from config.settings import Settings

log = logging.getLogger(__name__)

CLEANUP_TASK = "cleanup"
CLEANUP_EVERY_S = 3600.0
MIRROR_SWEEP_EVERY_S = 300.0
# A process that just started has better things to do first (and its first jobs keep the ids
# a fresh deployment's users and tests expect).
FIRST_LOOK_AFTER_S = 300.0
DAY_S = 86_400.0
# GitHub redelivers deliveries of the past 3 days (7 on GitHub Enterprise Server): a delivery id
# is kept a day longer than that, so a redelivery is still recognised.
DELIVERY_KEEP_S = 8 * DAY_S
# Removal records outlive every machine's mirror sweep, and `baton purge` needs them meanwhile.
REMOVAL_KEEP_S = 90 * DAY_S
# A pristine checkout (bot/pristine) no run has started from for this long goes: it holds a
# repository's whole working tree, and the next run makes it again.
CHECKOUT_IDLE_S = DAY_S


@dataclass(frozen=True, slots=True)
class Cleaned:
    queue: PurgedJobs
    store: Pruned


def cleanup_delivery_id(now: float) -> str:
    """One id per hour: whichever worker submits first enqueues the hour's cleanup."""
    return f"baton:cleanup:{int(now // CLEANUP_EVERY_S)}"


async def cleanup(
    *, settings: Settings, store: Store, queue: JobQueue, now: float | None = None
) -> Cleaned:
    """Delete what is past its retention (the `cleanup` task)."""
    at = time.time() if now is None else now
    purged = await queue.purge(
        finished_before=at - settings.job_retention_days * DAY_S,
        deliveries_before=at - DELIVERY_KEEP_S,
    )
    pruned = await store.prune(
        events_before=at - settings.event_retention_days * DAY_S,
        removed_repos_before=at - REMOVAL_KEEP_S,
    )
    log.info(
        "cleanup: deleted %d finished jobs, %d deliveries, %d run events, %d removal records",
        purged.jobs,
        purged.deliveries,
        pruned.events,
        pruned.removed_repos,
    )
    return Cleaned(queue=purged, store=pruned)


async def sweep_mirrors(services: Services, *, now: float | None = None) -> list[str]:
    """Drop this machine's mirrors of repositories removed from their installation, and the
    pristine checkouts no run has started from for a day."""
    at = time.time() if now is None else now
    removed = await services.store.removed_repos(since=at - REMOVAL_KEEP_S)
    gone = await remove_mirrors(services, removed) if removed else []
    if gone:
        log.info("removed the mirrors of %s (their installation lost them)", ", ".join(gone))
    idle = await services.workspaces.drop_idle_checkouts(used_before=at - CHECKOUT_IDLE_S)
    if idle:
        log.info("removed the idle pristine checkouts of %s", ", ".join(idle))
    return gone


async def loop(
    services: Services,
    queue: JobQueue,
    *,
    clock: Callable[[], float] = time.time,
    tick_s: float = 60.0,
    first_after_s: float = FIRST_LOOK_AFTER_S,
) -> None:
    """Run until cancelled: the hourly cleanup job, and this machine's mirror sweep."""
    last_sweep = 0.0
    submitted = ""
    await asyncio.sleep(first_after_s)
    while True:
        now = clock()
        try:
            delivery = cleanup_delivery_id(now)
            if delivery != submitted:
                job = NewJob(task=CLEANUP_TASK, max_attempts=1)
                await queue.submit(job, delivery_id=delivery)
                submitted = delivery
            if now - last_sweep >= MIRROR_SWEEP_EVERY_S:
                await sweep_mirrors(services, now=now)
                last_sweep = now
        except StoreError as exc:
            log.warning("maintenance: %s; trying again in a minute", exc)
        await asyncio.sleep(tick_s)
