"""`baton deliveries [--failed] [--limit N]` and `baton deliveries redeliver ID`: the App's
webhook deliveries as GitHub recorded them, and asking for one again (`bot.deliveries_cli` wires
the command)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TYPE_CHECKING, TextIO

from bot.gh.app import GitHubApp
from bot.gh.deliveries import HookDelivery, deliveries, redeliver
from bot.gh.errors import GitHubError
from bot.redelivery import never_delivered, window_s
from config.dotenv import read_settings
from config.settings import SettingsError

if TYPE_CHECKING:
    import httpx

    from config.settings import Settings

# Reading back over the whole window stops here: a bound on API calls.
MAX_READ = 1000
HEADER = f"{'delivered (UTC)':<20}  {'attempt':>12}  {'delivery':<36}  {'event':<32}  status\n"


def _app(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> GitHubApp:
    problems = [p for p in settings.server_problems() if "WEBHOOK_SECRET" not in p]
    if problems:
        raise SettingsError("; ".join(problems))
    return GitHubApp(
        app_id=str(settings.app_id),
        private_key=settings.private_key_pem(),
        base_url=settings.github_url,
        transport=transport,
    )


def line(item: HookDelivery) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(item.delivered_at))
    outcome = f"{item.status} ({item.status_code})" if item.status_code else item.status
    again = "  (redelivery)" if item.redelivery else ""
    return f"{when}  {item.id:>12}  {item.guid}  {item.what:<32}  {outcome}{again}"


async def _window(app: GitHubApp) -> list[HookDelivery]:
    since = time.time() - window_s(app.base_url)
    return await deliveries(app, since=since, limit=MAX_READ)


async def list_deliveries(
    settings: Settings,
    *,
    failed: bool,
    limit: int,
    out: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    app = _app(settings, transport)
    if failed:
        shown = never_delivered(await _window(app))[:limit]
        if not shown:
            out.write("every delivery GitHub still keeps reached Baton\n")
            return 0
    else:
        shown = await deliveries(app, limit=limit)
    out.write(HEADER)
    out.writelines(line(item) + "\n" for item in shown)
    return 0


async def redeliver_one(
    settings: Settings,
    ident: str,
    *,
    out: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """`ident` is an attempt's id (a number) or a delivery's guid: its latest attempt."""
    app = _app(settings, transport)
    attempts = await _window(app)
    wanted = [a for a in attempts if (str(a.id) if ident.isdigit() else a.guid) == ident]
    if not wanted:
        days = window_s(app.base_url) / 86400
        raise SettingsError(
            f"no delivery {ident} among the App's deliveries of the last {days:g} days "
            "(`baton deliveries` lists them)"
        )
    target = wanted[0]
    await redeliver(app, target.id)
    out.write(
        f"asked GitHub to redeliver {target.guid} ({target.what}); it keeps its delivery id, so "
        "Baton runs it at most once\n"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    settings = read_settings()
    try:
        if args.deliveries_command == "redeliver":
            return asyncio.run(redeliver_one(settings, args.id, out=sys.stdout))
        return asyncio.run(
            list_deliveries(settings, failed=args.failed, limit=args.limit, out=sys.stdout)
        )
    except GitHubError as exc:
        print(f"baton: {exc}", file=sys.stderr)  # noqa: T201
        return 1
