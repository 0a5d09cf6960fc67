"""The catch-up look against the emulator: deliveries that never reached Baton are asked for again
with their own ids; those that did never are; one server looks at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.gh.deliveries import HookDelivery
from bot.redelivery import MAX_AUTOMATIC
from tests.bot.hookworld import HookWorld, hook_world

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[HookWorld]:
    async with hook_world(tmp_path) as made:
        yield made


async def test_what_never_arrived_is_redelivered_with_its_own_id(world: HookWorld) -> None:
    missed = await world.events_while_down(2)
    arrived = list(world.receiver.got)

    look = await world.catch_up().once()
    await world.hub.wait_for_deliveries(timeout_s=5)

    assert sorted(a.guid for a in look.asked) == sorted(missed)
    # Each arrives now under the id GitHub first gave it; nothing that had arrived comes again.
    assert sorted(world.receiver.got[len(arrived) :]) == sorted(missed)


async def test_a_delivery_that_succeeded_is_never_asked_for(world: HookWorld) -> None:
    look = await world.catch_up().once()

    assert look.read == len(world.hub.deliveries) > 0
    assert look.asked == ()


async def test_the_next_look_does_not_ask_again_for_what_has_arrived(world: HookWorld) -> None:
    await world.events_while_down(1)
    catch_up = world.catch_up()
    first = await catch_up.once()
    await world.hub.wait_for_deliveries(timeout_s=5)

    second = await catch_up.once()

    assert len(first.asked) == 1
    assert second.asked == ()


async def test_a_delivery_that_keeps_failing_is_asked_for_a_bounded_number_of_times(
    world: HookWorld,
) -> None:
    await world.events_while_down(1)
    world.receiver.status = 401  # Baton refuses it every time (say, a wrong secret)
    catch_up = world.catch_up()

    asked: list[HookDelivery] = []
    for _ in range(MAX_AUTOMATIC + 2):
        asked += (await catch_up.once()).asked
        await world.hub.wait_for_deliveries(timeout_s=5)

    assert len(asked) == MAX_AUTOMATIC
    # A server started afterwards reads GitHub's record of those attempts and leaves it too.
    await catch_up.stop()
    fresh = await world.catch_up().once()
    assert not fresh.skipped
    assert fresh.asked == ()


async def test_one_server_looks_at_a_time(world: HookWorld) -> None:
    await world.events_while_down(1)
    first, second = world.catch_up(), world.catch_up()

    looked = await first.once()
    skipped = await second.once()

    assert len(looked.asked) == 1
    assert skipped.skipped
    assert skipped.asked == ()
