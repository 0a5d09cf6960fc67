"""`baton deliveries`: GitHub's record of the App's deliveries, those that never reached Baton,
and asking for one again by its attempt id or its delivery id."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.hook_deliveries import list_deliveries, redeliver_one
from config.settings import Settings, SettingsError, load_settings
from tests.bot.hookworld import APP_ID, BASE, HookWorld, hook_world

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[HookWorld]:
    async with hook_world(tmp_path) as made:
        yield made


def settings(world: HookWorld, **extra: str) -> Settings:
    return load_settings(
        {
            "BATON_APP_ID": str(APP_ID),
            "BATON_PRIVATE_KEY": world.keys.private_pem,
            "BATON_GITHUB_URL": f"{BASE}/api/v3/",
            **extra,
        }
    )


async def test_the_list_is_githubs_record_newest_first(world: HookWorld) -> None:
    [missed] = await world.events_while_down(1)
    out = io.StringIO()

    code = await list_deliveries(
        settings(world), failed=False, limit=30, out=out, transport=world.transport
    )

    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0].startswith("delivered (UTC)")
    assert missed in lines[1]
    assert "installation.created" in lines[1]
    assert "failed to connect to host" in lines[1]
    assert [("OK (202)" in line) for line in lines[2:]] == [True, True]  # install and ping


async def test_failed_lists_only_what_never_reached_baton(world: HookWorld) -> None:
    [missed] = await world.events_while_down(1)
    out = io.StringIO()

    await list_deliveries(
        settings(world), failed=True, limit=30, out=out, transport=world.transport
    )

    [_header, only] = out.getvalue().splitlines()
    assert missed in only


async def test_nothing_failed_is_said_so(world: HookWorld) -> None:
    out = io.StringIO()
    await list_deliveries(
        settings(world), failed=True, limit=30, out=out, transport=world.transport
    )
    assert out.getvalue() == "every delivery GitHub still keeps reached Baton\n"


@pytest.mark.parametrize("by", ["guid", "attempt id"])
async def test_redeliver_sends_it_again_with_its_own_id(world: HookWorld, by: str) -> None:
    [missed] = await world.events_while_down(1)
    attempt = len(world.hub.deliveries)  # the emulator numbers attempts from 1
    out = io.StringIO()

    ident = missed if by == "guid" else str(attempt)
    code = await redeliver_one(settings(world), ident, out=out, transport=world.transport)
    await world.hub.wait_for_deliveries(timeout_s=5)

    assert code == 0
    assert out.getvalue().startswith(f"asked GitHub to redeliver {missed} (installation.created)")
    assert world.receiver.got[-1] == missed


async def test_an_unknown_delivery_is_one_line(world: HookWorld) -> None:
    with pytest.raises(SettingsError, match="no delivery nope among the App's deliveries"):
        await redeliver_one(settings(world), "nope", out=io.StringIO(), transport=world.transport)


async def test_the_apps_credentials_are_needed(world: HookWorld) -> None:
    with pytest.raises(SettingsError, match="BATON_APP_ID='x' is not a number"):
        await list_deliveries(
            settings(world, BATON_APP_ID="x"), failed=False, limit=1, out=io.StringIO()
        )


def test_deliveries_is_a_baton_command() -> None:
    args = build_parser().parse_args(["deliveries", "redeliver", "1234"])
    assert (args.deliveries_command, args.id) == ("redeliver", "1234")
    args = build_parser().parse_args(["deliveries", "--failed", "--limit", "5"])
    assert (args.failed, args.limit, args.deliveries_command) == (True, 5, None)
