"""Results of the saturated intake bench: tables, ratios per round, and its section of the doc."""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any

from saturated import Options, SaturatedResult

START = "<!-- bench:saturated_intake -->"
END = "<!-- /bench:saturated_intake -->"
RATE_TARGET = 0.8  # baton's requests/s over the bare app's


@dataclass(frozen=True, slots=True)
class SaturatedRun:
    date: str
    command: str
    machine: dict[str, str]
    options: Options
    wrk: str
    body_bytes: int
    results: tuple[SaturatedResult, ...]
    before: str = ""  # the commit `baton-before` ran, when one was measured

    def result(self, name: str) -> SaturatedResult | None:
        return next((r for r in self.results if r.name == name), None)

    def ratios(self) -> dict[str, list[float]]:
        """Baton's requests/s over each peer's, round by round (above 1 means Baton is ahead)."""
        baton = self.result("baton")
        out: dict[str, list[float]] = {}
        if baton is None or not baton.rounds:
            return out
        for peer in self.results:
            if peer.name == "baton" or not peer.rounds:
                continue
            pairs = zip(baton.rounds, peer.rounds, strict=False)
            out[f"baton/{peer.name}"] = [b.rate / p.rate for b, p in pairs if p.rate > 0]
        return out

    def cpu_ratios(self) -> dict[str, float]:
        """Baton's server CPU per request over each peer's (medians; below 1 means Baton is
        cheaper). Steadier than requests/s on a shared machine: it does not count the CPU time
        another process took from the server."""
        baton = self.result("baton")
        mine = baton.median("cpu_us_per_request") if baton is not None else None
        out: dict[str, float] = {}
        for peer in self.results:
            theirs = peer.median("cpu_us_per_request")
            if peer.name != "baton" and mine is not None and theirs:
                out[f"baton/{peer.name}"] = mine / theirs
        return out

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ratios"] = self.ratios()
        data["cpu_ratios"] = self.cpu_ratios()
        return data


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def results_table(run: SaturatedRun) -> list[str]:
    count = run.options.rounds
    head = (
        "| target | "
        + " | ".join(f"round {i + 1} req/s" for i in range(count))
        + " | median req/s | p50 ms | p99 ms | errors | server CPU µs/request |"
    )
    lines = [head, "|" + "---|" * (head.count(" | ") + 1)]
    for r in run.results:
        if not r.rounds:
            why = r.missing.splitlines()[0] if r.missing else "?"
            lines.append(f"| {r.name} | not measured: {why} |" + " |" * (count + 4))
            continue
        rates = [_num(x.rate) for x in r.rounds] + ["-"] * (count - len(r.rounds))
        errors = sum(x.errors for x in r.rounds)
        total = sum(x.requests for x in r.rounds)
        lines.append(
            f"| {r.name} | "
            + " | ".join(rates)
            + f" | {_num(r.median('rate'))} | {_num(r.median('p50_ms'), 2)} "
            + f"| {_num(r.median('p99_ms'), 2)} | {errors:,} of {total:,} "
            + f"| {_num(r.median('cpu_us_per_request'))} |"
        )
    return lines


def ratios_table(run: SaturatedRun) -> list[str]:
    count = run.options.rounds
    rounds = " | ".join(f"req/s round {i + 1}" for i in range(count))
    head = f"| ratio | {rounds} | req/s median | server CPU per request |"
    lines = [head, "|" + "---|" * (count + 3)]
    cpu = run.cpu_ratios()
    for name, values in run.ratios().items():
        cells = [f"{v:.2f}" for v in values] + ["-"] * (count - len(values))
        median = f"{statistics.median(values):.2f}" if values else "-"
        per_request = f"{cpu[name]:.2f}" if name in cpu else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {median} | {per_request} |")
    return lines


def verdict(run: SaturatedRun) -> str:
    values = run.ratios().get("baton/bare")
    if not values:
        return f"The target baton/bare >= {RATE_TARGET} could not be checked: a target is missing."
    median = statistics.median(values)
    met = "met" if median >= RATE_TARGET else "NOT met"
    return f"Target requests/s baton/bare >= {RATE_TARGET}: {met} ({median:.2f}, median of rounds)."


def section(run: SaturatedRun) -> str:
    """The markdown between the markers (markers included)."""
    m, o = run.machine, run.options
    missing = [f"- {r.name} was not measured: {r.missing.splitlines()[0]}"
               for r in run.results if r.missing]  # fmt: skip
    before = (
        [f"- **baton-before**: `baton serve` as above, from a checkout of {run.before}."]
        if run.before
        else []
    )
    lines = [
        START,
        "## Saturated webhook intake",
        "",
        f"Measured {run.date} by `bench/webhook_intake.py` (rewritten by `--write`):",
        "",
        "```",
        run.command,
        "```",
        "",
        (
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}, Python {m['python']}, "
            f"Node {m['node']}; wrk {run.wrk}."
        ),
        "",
        (
            f"Load: closed loop, wrk with {o.threads} thread and {o.connections} keep-alive "
            "connections sends the next request as soon as a response arrives. Every request is "
            f"the same signed {run.body_bytes:,}-byte `issues.labeled` delivery, a `bug` label "
            "added to an open issue that already carries `agent:fix`, with a fresh "
            "`X-GitHub-Delivery` each time (the signature covers only the body). It starts "
            "nothing, but its bytes contain the label prefix, so Baton must read the payload "
            "to know that. The servers are those of the section above, all started before the "
            f"first round; each gets a {o.warmup_s:g} s warm-up, then {o.rounds} rounds of "
            f"{o.round_s:g} s, interleaved (round 1 of every target, then round 2, ...)."
        ),
        *([""] if before or missing else []),
        *before,
        *missing,
        "",
        *results_table(run),
        "",
        *ratios_table(run),
        "",
        verdict(run),
        (
            "Errors count failed connections, reads, writes, time-outs and responses of 400 or "
            "more; p50 and p99 are wrk's, from send to response on a busy connection (medians "
            "of the rounds). wrk shares the two cores with the server under test."
        ),
        END,
    ]
    return "\n".join(lines)
