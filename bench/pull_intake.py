"""What the scoreboard's webhooks cost at intake: deliveries about pull requests Baton did not
open, beside the commonest delivery Baton already ignores (a comment with no command).

Each kind is posted, signed, to the webhook endpoint in this process (its app called directly
over ASGI, the SQLite queue in memory), in interleaved rounds; the table gives the median time
per delivery and its ratio to the comment's, measured side by side in one run.

    .venv/bin/python bench/pull_intake.py [--rounds 5] [--per-round 400] \
        [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from bot.database import open_database
from bot.intake import intake_router
from bot.queue.sqlite import SQLiteJobQueue
from bot.webhooks import WebhookEndpoint
from config.settings import load_settings
from tests.webhook_helpers import fixture, headers

MARK = "bench:pull_intake"
SECRET = b"bench-pull-intake"


def _kinds() -> dict[str, tuple[str, dict[str, Any]]]:
    comment = fixture("issue_comment.created.0")
    someone = fixture("pull_request.synchronize.0")
    suite = fixture("check_suite.completed.0")
    review = fixture("pull_request_review.submitted.1")
    for payload in (comment, someone, suite, review):
        payload["installation"] = {"id": 42}
    return {
        "a comment with no command (baseline)": ("issue_comment", comment),
        "a push to someone's pull request": ("pull_request", someone),
        "a review of someone's pull request": ("pull_request_review", review),
        "another app's check suite on a feature branch": ("check_suite", suite),
    }


async def measure(rounds: int, per_round: int) -> dict[str, float]:
    conn = open_database("sqlite:///:memory:")
    queue = SQLiteJobQueue(conn)
    settings = load_settings({"BATON_WEBHOOK_SECRET": SECRET.decode()})
    endpoint = WebhookEndpoint(settings=settings, router=intake_router(), queue=queue)
    app = Starlette(routes=[Route("/webhooks", endpoint.handle, methods=["POST"])])
    kinds = _kinds()
    bodies = {name: json.dumps(p).encode() for name, (_, p) in kinds.items()}
    times: dict[str, list[float]] = {name: [] for name in kinds}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://baton") as client:
        for _ in range(rounds):
            for name, (event, _payload) in kinds.items():
                body = bodies[name]
                sent = [headers(SECRET, event, body) for _ in range(per_round)]
                started = time.perf_counter()
                for hdrs in sent:
                    resp = await client.post("/webhooks", content=body, headers=hdrs)
                    if resp.status_code != 202 or "ignored" not in resp.json():
                        raise SystemExit(f"{name}: {resp.status_code} {resp.text}")
                times[name].append((time.perf_counter() - started) / per_round)
    written = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    conn.close()
    if written:
        raise SystemExit(f"{written} deliveries were written: intake must write none of these")
    return {name: statistics.median(t) for name, t in times.items()}


def render(medians: dict[str, float], sizes: dict[str, int], rounds: int, per_round: int) -> str:
    base = next(iter(medians.values()))
    lines = [
        f"<!-- {MARK} -->",
        "## Intake of the scoreboard's webhooks",
        "",
        (
            f"Measured {time.strftime('%Y-%m-%d')} by `.venv/bin/python bench/pull_intake.py "
            "--write docs/performance.md`: each kind of delivery (GitHub's own examples) "
            "posted, signed, to the webhook endpoint in one process "
            f"({rounds} interleaved rounds of {per_round}); none of them wrote a row (the "
            "bench checks). Baton's own pull requests are told apart from the payload alone, "
            "and a delivery without Baton's bot login (or a `baton/` branch) in its bytes is "
            "answered without parsing: what is left scales with the body the signature check "
            "hashes."
        ),
        "",
        "| delivery | body | median per delivery | vs. the baseline |",
        "|---|---|---|---|",
    ]
    for name, median in medians.items():
        size = f"{sizes[name] / 1024:.1f} KiB"
        lines.append(f"| {name} | {size} | {median * 1e6:.0f} µs | {median / base:.2f}x |")
    return "\n".join([*lines, "", f"<!-- /{MARK} -->"])


def write(path: Path, section: str) -> None:
    text = path.read_text()
    pattern = re.compile(rf"<!-- {MARK} -->.*?<!-- /{MARK} -->", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=400)
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    args = parser.parse_args()
    medians = asyncio.run(measure(args.rounds, args.per_round))
    sizes = {name: len(json.dumps(p).encode()) for name, (_, p) in _kinds().items()}
    section = render(medians, sizes, args.rounds, args.per_round)
    print(section)
    if args.write:
        write(args.write, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
