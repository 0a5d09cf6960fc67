"""Webhook acknowledgement latency of `baton serve` beside a bare Starlette app and Probot.

Run from the repository root:
    .venv/bin/python bench/webhook_intake.py [--rate 200] [--seconds 20] \
        [--write docs/performance.md]
Results are ratios measured side by side in one run, on one machine; never a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import json
import os
import platform
import secrets
import shlex
import sys
import tempfile
from pathlib import Path

import report
import servers
from deliveries import OTHER_LABEL_SHARE, Delivery, DeliveryMix, count_triggers
from loadgen import Pool, encode, run_open_loop, send_closed_loop, summarize
from report import Run, TargetResult
from servers import HOST, Server, ServerFailed, Target

PROBES = 3


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds sent, not counted")
    parser.add_argument("--settle", type=float, default=2.0, help="rest before idle RSS")
    parser.add_argument(
        "--trigger-share",
        type=float,
        default=0.10,
        help="share of deliveries that queue a run (0 keeps Baton's worker idle)",
    )
    parser.add_argument(
        "--targets", default="baton,bare,probot", help="comma-separated subset, in run order"
    )
    parser.add_argument("--write", type=Path, help="rewrite the intake section of this file")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if not 0 <= args.trigger_share <= 1 - OTHER_LABEL_SHARE:
        parser.error(f"--trigger-share must be between 0 and {1 - OTHER_LABEL_SHARE:g}")
    if args.rate <= 0 or args.seconds <= 0 or args.warmup < 0 or args.settle < 0:
        parser.error("--rate and --seconds must be positive, --warmup and --settle not negative")
    return args


async def _bench_one(
    target: Target, deliveries: list[Delivery], *, args: argparse.Namespace, logs: Path
) -> TargetResult:
    requests = [encode(d, host=HOST, port=target.port, path=target.path) for d in deliveries]
    probes, load = requests[:PROBES], requests[PROBES:]
    warm = round(args.rate * args.warmup)
    server = Server(target=target, log_path=logs / f"{target.name}.log")
    pool = Pool(host=HOST, port=target.port)
    try:
        await server.start()
        statuses = await send_closed_loop(pool, probes)
        if any(not 200 <= s < 300 for s in statuses):
            server.check_alive()
            return TargetResult(name=target.name, missing=f"probe deliveries got {statuses}")
        await asyncio.sleep(args.settle)
        idle = server.memory()
        cpu_before = server.cpu_seconds()
        samples = await run_open_loop(pool, load, rate=args.rate)
        server.check_alive()
        cpu_s = server.cpu_seconds() - cpu_before
        # /proc counts CPU in clock ticks (10 ms): a short run can show none at all, and a
        # ratio against zero means nothing, so an unmeasurable figure is left out, not made up.
        cpu_us = cpu_s / len(load) * 1e6 if cpu_s > 0 else None
        after = server.memory()
    except (ServerFailed, OSError, TimeoutError) as exc:
        # One target's failure is reported in its row; the others are still measured.
        return TargetResult(name=target.name, missing=f"{type(exc).__name__}: {exc}")
    finally:
        await pool.close()
        await server.stop()
    return TargetResult(
        name=target.name,
        summary=summarize(samples[warm:]),
        idle=idle,
        after_load=after,
        cpu_us_per_delivery=cpu_us,
    )


def _machine(node: str | None) -> dict[str, str]:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": servers.version_of([node, "--version"]) if node else "not found",
        "uvicorn": importlib.metadata.version("uvicorn"),
        "starlette": importlib.metadata.version("starlette"),
        "probot": servers.PROBOT_VERSION,
    }


def _targets(names: list[str], *, secret: str, tmp: Path, node: str | None) -> list[Target | str]:
    """Each target to run, or the name of one that cannot run, in the requested order."""
    key_pem = servers.private_key_pem()
    out: list[Target | str] = []
    for name in names:
        if name == "baton":
            out.append(servers.baton_target(secret=secret, key_pem=key_pem, tmp=tmp))
        elif name == "bare":
            out.append(servers.bare_target(secret=secret))
        elif name == "probot" and node is not None:
            out.append(servers.probot_target(secret=secret, key_pem=key_pem, node=node))
        else:
            out.append(name)
    return out


async def _run(args: argparse.Namespace, command: str) -> Run:
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    node, why_no_probot = servers.ensure_probot() if "probot" in names else (None, "")
    if why_no_probot:
        print(f"probot will not be measured: {why_no_probot}", file=sys.stderr)
    warm, measured = round(args.rate * args.warmup), round(args.rate * args.seconds)
    secret = secrets.token_hex(20)
    # The same signed sequence for every target.
    mix = DeliveryMix(secret=secret.encode(), trigger_share=args.trigger_share)
    deliveries = mix.build(PROBES + warm + measured)
    results: list[TargetResult] = []
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp_name:
        for item in _targets(names, secret=secret, tmp=Path(tmp_name), node=node):
            if isinstance(item, str):
                why = why_no_probot if item == "probot" else "unknown target"
                results.append(TargetResult(name=item, missing=why))
                continue
            print(f"{item.name}: {warm} warm-up + {measured} measured ...", file=sys.stderr)
            result = await _bench_one(item, deliveries, args=args, logs=Path(tmp_name))
            if result.missing:
                print(f"{item.name} was not measured: {result.missing}", file=sys.stderr)
            results.append(result)
    return Run(
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=command,
        rate=args.rate,
        seconds=args.seconds,
        warmup_s=args.warmup,
        settle_s=args.settle,
        trigger_share=args.trigger_share,
        triggers=count_triggers(deliveries[PROBES + warm :]),
        machine=_machine(node),
        results=tuple(results),
    )


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    command = shlex.join([".venv/bin/python", "bench/webhook_intake.py", *raw])
    run = asyncio.run(_run(args, command))
    print("\n".join([*report.results_table(run), "", *report.ratios_table(run), ""]))
    print(report.verdict(run))
    if args.json is not None:
        args.json.write_text(json.dumps(run.to_json(), indent=2) + "\n")
    if args.write is not None:
        report.write_section(args.write, run)
        print(f"wrote the intake section of {args.write}", file=sys.stderr)
    return 0 if all(r.summary is not None and r.summary.errors == 0 for r in run.results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
