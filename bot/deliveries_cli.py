"""`baton deliveries` on the command line (the work is in `bot.hook_deliveries`, loaded only when
the command runs)."""

from __future__ import annotations

import argparse


def _deliveries(args: argparse.Namespace) -> int:
    from bot.hook_deliveries import run  # noqa: PLC0415 - githubkit only for this command

    return run(args)


def add_deliveries(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `baton deliveries` on the `baton` parser's subcommands."""
    parser = sub.add_parser(
        "deliveries",
        help="the App's recent webhook deliveries; `deliveries redeliver ID` asks for one again",
        usage="baton deliveries [--failed] [--limit N] | baton deliveries redeliver ID",
        description="List the App's webhook deliveries as GitHub recorded them (newest first), "
        "or ask GitHub to send one again. `baton serve` does this by itself for deliveries "
        "that never reached it (BATON_REDELIVER_INTERVAL_S).",
    )
    parser.add_argument(
        "--failed", action="store_true", help="only deliveries that never reached Baton"
    )
    parser.add_argument("--limit", type=int, default=30, help="at most this many (default: 30)")
    dsub = parser.add_subparsers(dest="deliveries_command", metavar="ACTION")
    again = dsub.add_parser("redeliver", help="ask GitHub to send one delivery again")
    again.add_argument(
        "id", metavar="ID", help="an attempt's id, or a delivery's id (X-GitHub-Delivery)"
    )
    parser.set_defaults(func=_deliveries)
