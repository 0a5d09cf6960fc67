"""Results of the intake bench: a console table, JSON, and the section of docs/performance.md."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import Summary
from servers import Memory

START = "<!-- bench:webhook_intake -->"
END = "<!-- /bench:webhook_intake -->"
P99_TARGET = 1.5


@dataclass(frozen=True, slots=True)
class TargetResult:
    """One server's run, or why it has none (`missing`)."""

    name: str
    summary: Summary | None = None
    idle: Memory | None = None
    after_load: Memory | None = None
    # Server CPU (user + system) over warm-up and measured load, per delivery.
    cpu_us_per_delivery: float | None = None
    missing: str = ""


@dataclass(frozen=True, slots=True)
class Run:
    """Everything one invocation measured, and the facts needed to reproduce it."""

    date: str
    command: str
    rate: float
    seconds: float
    warmup_s: float
    settle_s: float
    trigger_share: float
    triggers: int
    machine: dict[str, str]
    results: tuple[TargetResult, ...]
    before: str = ""  # the commit `baton-before` ran, when one was measured

    def result(self, name: str) -> TargetResult | None:
        return next((r for r in self.results if r.name == name), None)

    def ratios(self) -> dict[str, dict[str, float]]:
        """Baton over each peer, for p50, p99 and idle RSS (below 1 means Baton is ahead)."""
        baton = self.result("baton")
        out: dict[str, dict[str, float]] = {}
        if baton is None or baton.summary is None:
            return out
        for peer in self.results:
            if peer.name == "baton" or peer.summary is None:
                continue
            row = {
                "p50": _ratio(baton.summary.p50_ms, peer.summary.p50_ms),
                "p99": _ratio(baton.summary.p99_ms, peer.summary.p99_ms),
            }
            if baton.idle is not None and peer.idle is not None:
                row["idle_rss"] = _ratio(baton.idle.rss_kib, peer.idle.rss_kib)
            if baton.cpu_us_per_delivery is not None and peer.cpu_us_per_delivery is not None:
                row["cpu"] = _ratio(baton.cpu_us_per_delivery, peer.cpu_us_per_delivery)
            out[f"baton/{peer.name}"] = row
        return out

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ratios"] = self.ratios()
        return data


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _mib(memory: Memory | None, *, peak: bool = False) -> str:
    if memory is None:
        return "-"
    return f"{(memory.peak_kib if peak else memory.rss_kib) / 1024:.1f}"


def _cpu(us: float | None) -> str:
    return "-" if us is None else f"{us:.0f}"


def results_table(run: Run) -> list[str]:
    head = (
        "| target | p50 ms | p90 ms | p99 ms | max ms | non-2xx/errors | achieved /s "
        "| client lag p99 ms | server CPU µs/delivery | idle RSS MiB | RSS after load MiB "
        "| peak RSS MiB |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in run.results:
        s = r.summary
        if s is None:
            why = r.missing.splitlines()[0] if r.missing else "?"
            lines.append(f"| {r.name} | not measured: {why} |" + " |" * 11)
            continue
        lines.append(
            f"| {r.name} | {s.p50_ms:.2f} | {s.p90_ms:.2f} | {s.p99_ms:.2f} | {s.max_ms:.2f} "
            + f"| {s.errors} of {s.count} | {s.achieved_rate:.1f} | {s.send_lag_p99_ms:.2f} "
            + f"| {_cpu(r.cpu_us_per_delivery)} "
            + f"| {_mib(r.idle)} | {_mib(r.after_load)} | {_mib(r.after_load, peak=True)} |"
        )
    return lines


def ratios_table(run: Run) -> list[str]:
    lines = ["| ratio | p50 | p99 | server CPU | idle RSS |", "|---|---|---|---|---|"]
    for name, row in run.ratios().items():
        cpu = f"{row['cpu']:.2f}" if "cpu" in row else "-"
        rss = f"{row['idle_rss']:.2f}" if "idle_rss" in row else "-"
        lines.append(f"| {name} | {row['p50']:.2f} | {row['p99']:.2f} | {cpu} | {rss} |")
    return lines


def verdict(run: Run) -> str:
    row = run.ratios().get("baton/bare")
    if row is None:
        return "The p99 target (baton/bare <= 1.5) could not be checked: a target is missing."
    met = "met" if row["p99"] <= P99_TARGET else "NOT met"
    return f"Target p99 baton/bare <= {P99_TARGET}: {met} ({row['p99']:.2f})."


def section(run: Run) -> str:
    """The markdown between the markers (markers included)."""
    m = run.machine
    measured = round(run.rate * run.seconds)
    missing = [
        f"- {r.name} was not measured: {r.missing.splitlines()[0]}"
        for r in run.results
        if r.missing
    ]
    lines = [
        START,
        "## Webhook intake and idle RSS",
        "",
        f"Measured {run.date} by `bench/webhook_intake.py` (rewritten by `--write`):",
        "",
        "```",
        run.command,
        "```",
        "",
        (
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}, Python {m['python']}, "
            f"Node {m['node']}; uvicorn {m['uvicorn']}, Starlette {m['starlette']}, "
            f"probot {m['probot']}."
        ),
        "",
        (
            f"Load: {run.rate:g} signed deliveries per second, open loop (each request is sent at "
            "its scheduled time whatever the earlier ones do, and its latency counts from that "
            f"time), {measured} measured after a {run.warmup_s:g} s warm-up. The servers get "
            "the same sequence, one after another, each in its own process on 127.0.0.1. The mix "
            "is GitHub's example payloads with an installation: "
            f"{run.trigger_share:.0%} `issues.labeled` with "
            f"`agent:fix` on distinct issues ({run.triggers} runs queued in the measured part; "
            "their GitHub is unreachable, so they fail later in Baton's worker), 10% other "
            "labels, the rest other issue, comment and review-comment "
            "events (none of them a command)."
        ),
        "",
        (
            "- **baton**: `baton serve` (SQLite queue, default log level INFO to a file; its "
            "runs go to the `baton worker` child it starts, whose CPU and RSS count with "
            "the server's)."
        ),
        (
            "- **bare**: `bench/bare_starlette.py`, Starlette under uvicorn with the same options, "
            "checks `X-Hub-Signature-256` and answers 202."
        ),
        (
            "- **probot**: `bench/probot_app/index.cjs` under `probot run` (one no-op "
            "`issues.labeled` handler, `LOG_LEVEL=warn`, `NODE_ENV=production`)."
        ),
        *(
            [f"- **baton-before**: `baton serve` as above, from a checkout of {run.before}."]
            if run.before
            else []
        ),
        *missing,
        "",
        *results_table(run),
        "",
        *ratios_table(run),
        "",
        verdict(run),
        (
            "Idle RSS is read from `/proc/<pid>/status` (VmRSS) after start-up, three deliveries "
            f"and {run.settle_s:g} s of rest; client lag is how late the load generator itself "
            "sent requests. The client is raw asyncio HTTP/1.1 with requests encoded before the "
            "run: against the bare app, httpx's client added about 1 ms to every request and "
            "used five times the client CPU, which would pull every ratio toward 1."
        ),
        END,
    ]
    return "\n".join(lines)


def replace_section(path: Path, markers: tuple[str, str], new: str) -> None:
    """Replace what lies between `markers` (included) in `path`, leaving the rest as it is."""
    text = path.read_text()
    (first, last) = markers
    start, end = text.find(first), text.find(last)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no `{first}` ... `{last}` section to rewrite")
    path.write_text(text[:start] + new + text[end + len(last) :])


def write_section(path: Path, run: Run) -> None:
    """Replace the intake section of `path` between its markers, leaving the rest as it is."""
    replace_section(path, (START, END), section(run))
