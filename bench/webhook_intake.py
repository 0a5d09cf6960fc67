"""Webhook intake of `baton serve` beside a bare Starlette app and Probot: latency, then throughput.

Two phases: steady open-loop load (acknowledgement latency at `--rate` deliveries per second),
then saturated closed-loop load from wrk (requests per second, interleaved rounds).
Run from the repository root:
    .venv/bin/python bench/webhook_intake.py [--rate 200] [--seconds 20] [--rounds 3] \
        [--before /path/to/an/earlier/checkout] [--write docs/performance.md]
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
import saturated
import saturated_report
import servers
from deliveries import OTHER_LABEL_SHARE, Delivery, DeliveryMix, count_triggers, saturating
from loadgen import Pool, encode, run_open_loop, send_closed_loop, summarize
from report import Run, TargetResult
from saturated_report import SaturatedRun
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
    parser.add_argument(
        "--before",
        type=Path,
        help="also measure `baton serve` from this checkout (an earlier commit), as baton-before",
    )
    parser.add_argument(
        "--phases", default="latency,saturated", help="comma-separated: latency, saturated"
    )
    parser.add_argument("--rounds", type=int, default=3, help="saturated rounds per target")
    parser.add_argument("--round-seconds", type=int, default=10, help="one saturated round")
    parser.add_argument("--saturated-warmup", type=int, default=2, help="seconds, per target")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk's threads")
    parser.add_argument("--write", type=Path, help="rewrite the intake section of this file")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if not 0 <= args.trigger_share <= 1 - OTHER_LABEL_SHARE:
        parser.error(f"--trigger-share must be between 0 and {1 - OTHER_LABEL_SHARE:g}")
    if args.rate <= 0 or args.seconds <= 0 or args.warmup < 0 or args.settle < 0:
        parser.error("--rate and --seconds must be positive, --warmup and --settle not negative")
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if not args.phases or not args.phases <= {"latency", "saturated"}:
        parser.error("--phases takes latency and/or saturated")
    if args.rounds < 1 or args.round_seconds < 1 or args.connections < 1 or args.wrk_threads < 1:
        parser.error("--rounds, --round-seconds, --connections and --wrk-threads must be positive")
    if args.saturated_warmup < 0:
        parser.error("--saturated-warmup must not be negative")
    if args.before is not None and not (args.before / "bot" / "cli.py").is_file():
        parser.error(f"--before {args.before}: not a checkout of Baton (no bot/cli.py)")
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


def _names(args: argparse.Namespace) -> list[str]:
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    if args.before is not None and "baton-before" not in names:
        at = names.index("baton") + 1 if "baton" in names else 0
        names.insert(at, "baton-before")
    return names


def _targets(
    names: list[str], *, secret: str, tmp: Path, node: str | None, before: Path | None
) -> list[Target | str]:
    """Each target to run, or the name of one that cannot run, in the requested order."""
    key_pem = servers.private_key_pem()
    out: list[Target | str] = []
    for name in names:
        if name == "baton":
            out.append(servers.baton_target(secret=secret, key_pem=key_pem, tmp=tmp / name))
        elif name == "baton-before" and before is not None:
            out.append(
                servers.baton_target(
                    secret=secret, key_pem=key_pem, tmp=tmp / name, name=name, repo=before
                )
            )
        elif name == "bare":
            out.append(servers.bare_target(secret=secret))
        elif name == "probot" and node is not None:
            out.append(servers.probot_target(secret=secret, key_pem=key_pem, node=node))
        else:
            out.append(name)
    return out


@dataclass(frozen=True, slots=True)
class _Setup:
    """What both phases share: the targets' names, Node, the secret, the machine's facts."""

    names: list[str]
    node: str | None
    why_no_probot: str
    secret: str
    command: str
    date: str
    before: str

    def why_missing(self, name: str) -> str:
        return self.why_no_probot if name == "probot" else "unknown target"


def _setup(args: argparse.Namespace, command: str) -> _Setup:
    names = _names(args)
    node, why_no_probot = servers.ensure_probot() if "probot" in names else (None, "")
    if why_no_probot:
        print(f"probot will not be measured: {why_no_probot}", file=sys.stderr)
    before = ""
    if args.before is not None:
        commit = ["git", "-C", str(args.before), "log", "-1", "--format=%h, committed %cs"]
        before = f"`{args.before}` at {servers.version_of(commit)}"
    return _Setup(
        names=names, node=node, why_no_probot=why_no_probot, secret=secrets.token_hex(20),
        command=command, date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        before=before,
    )  # fmt: skip


async def _latency(args: argparse.Namespace, setup: _Setup) -> Run:
    warm, measured = round(args.rate * args.warmup), round(args.rate * args.seconds)
    # The same signed sequence for every target.
    mix = DeliveryMix(secret=setup.secret.encode(), trigger_share=args.trigger_share)
    deliveries = mix.build(PROBES + warm + measured)
    results: list[TargetResult] = []
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp_name:
        tmp = Path(tmp_name)
        targets = _targets(setup.names, secret=setup.secret, tmp=tmp, node=setup.node,
                           before=args.before)  # fmt: skip
        for item in targets:
            if isinstance(item, str):
                results.append(TargetResult(name=item, missing=setup.why_missing(item)))
                continue
            print(f"{item.name}: {warm} warm-up + {measured} measured ...", file=sys.stderr)
            result = await _bench_one(item, deliveries, args=args, logs=tmp)
            if result.missing:
                print(f"{item.name} was not measured: {result.missing}", file=sys.stderr)
            results.append(result)
    return Run(
        date=setup.date,
        command=setup.command,
        rate=args.rate,
        seconds=args.seconds,
        warmup_s=args.warmup,
        settle_s=args.settle,
        trigger_share=args.trigger_share,
        triggers=count_triggers(deliveries[PROBES + warm :]),
        machine=_machine(setup.node),
        results=tuple(results),
        before=setup.before,
    )


async def _saturated(args: argparse.Namespace, setup: _Setup) -> SaturatedRun:
    options = saturated.Options(
        connections=args.connections, threads=args.wrk_threads, rounds=args.rounds,
        round_s=args.round_seconds, warmup_s=args.saturated_warmup,
    )  # fmt: skip
    delivery = saturating(setup.secret.encode())
    wrk, why_no_wrk = saturated.ensure_wrk()
    results: list[saturated.SaturatedResult] = []
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp_name:
        tmp = Path(tmp_name)
        targets = _targets(setup.names, secret=setup.secret, tmp=tmp, node=setup.node,
                           before=args.before)  # fmt: skip
        if wrk is None:
            print(f"the saturated phase cannot run: {why_no_wrk}", file=sys.stderr)
            names = [t if isinstance(t, str) else t.name for t in targets]
            results = [saturated.SaturatedResult(name=n, missing=why_no_wrk) for n in names]
        else:
            plan = [(t, setup.why_missing(t)) if isinstance(t, str) else t for t in targets]
            results = await saturated.run(
                plan, wrk=wrk, delivery=delivery, options=options, folder=tmp
            )
    return SaturatedRun(
        date=setup.date,
        command=setup.command,
        machine=_machine(setup.node),
        options=options,
        wrk=saturated.wrk_version(wrk) if wrk is not None else "not found",
        body_bytes=len(delivery.body),
        results=tuple(results),
        before=setup.before,
    )


def _ok(latency: Run | None, saturation: SaturatedRun | None) -> bool:
    if latency is not None and not all(
        r.summary is not None and r.summary.errors == 0 for r in latency.results
    ):
        return False
    return saturation is None or all(
        r.rounds and not r.missing and all(x.errors == 0 for x in r.rounds)
        for r in saturation.results
    )


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    setup = _setup(args, shlex.join([".venv/bin/python", "bench/webhook_intake.py", *raw]))
    latency = asyncio.run(_latency(args, setup)) if "latency" in args.phases else None
    saturation = asyncio.run(_saturated(args, setup)) if "saturated" in args.phases else None
    data: dict[str, Any] = {}
    if latency is not None:
        print("\n".join([*report.results_table(latency), "", *report.ratios_table(latency), ""]))
        print(report.verdict(latency))
        data = latency.to_json()
    if saturation is not None:
        tables = [*saturated_report.results_table(saturation), "",
                  *saturated_report.ratios_table(saturation), ""]  # fmt: skip
        print("\n".join(["", *tables]))
        print(saturated_report.verdict(saturation))
        data["saturated"] = saturation.to_json()
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    if args.write is not None:
        if latency is not None:
            report.write_section(args.write, latency)
        if saturation is not None:
            markers = (saturated_report.START, saturated_report.END)
            report.replace_section(args.write, markers, saturated_report.section(saturation))
        print(f"wrote the intake sections of {args.write}", file=sys.stderr)
    return 0 if _ok(latency, saturation) else 1


if __name__ == "__main__":
    raise SystemExit(main())
