"""`baton doctor` on the command line: one line per check, what to do under each ✗."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.doctor.result import Check, Outcome, all_passed, failed
from config import dotenv
from config.settings import SettingsError, load_settings

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

    import httpx

    from bot.doctor.checks import Probes


def render(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.outcome.value} {check.name}: {check.detail}")
        if check.outcome is Outcome.FAILED and check.advice:
            lines.append(f"    → {check.advice}")
    return "\n".join(lines) + "\n"


async def doctor(
    *,
    env: Mapping[str, str] | None,
    public_url: str,
    out: TextIO,
    probes: Probes | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Print every check; 0 only when all passed. Settings (BATON_*) and the agents' keys come
    from `env`, or as `baton serve` reads them when it is None."""
    from bot.doctor.checks import diagnose  # noqa: PLC0415 - heavy imports only when run

    try:
        settings = load_settings(env)
        env = os.environ if env is None else env
    except SettingsError as exc:
        checks = [failed("settings", str(exc), "fix the BATON_* variables named above")]
    else:
        checks = await diagnose(
            settings, env=env, public_url=public_url, probes=probes, transport=transport
        )
    out.write(render(checks))
    ok = all_passed(checks)
    failures = sum(c.outcome is Outcome.FAILED for c in checks)
    out.write("all checks passed\n" if ok else f"{failures} check(s) failed\n")
    return 0 if ok else 1


def _run(args: argparse.Namespace) -> int:
    # As `baton serve` reads them: the environment, then ./.env for what it lacks.
    dotenv.load(Path(dotenv.ENV_FILE))
    return asyncio.run(doctor(env=None, public_url=args.public_url or "", out=sys.stdout))


def add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `baton doctor` on the `baton` parser's subcommands."""
    parser = sub.add_parser(
        "doctor",
        help="check the settings, GitHub, the App's webhook, the database, sandbox and agents",
        description="Check this deployment line by line (✓/✗, what to do for each ✗); exit 0 "
        "only when every check passes. Secrets are never printed.",
    )
    parser.add_argument(
        "--public-url", metavar="URL", help="this server's public URL (default: BATON_PUBLIC_URL)"
    )
    parser.set_defaults(func=_run)
