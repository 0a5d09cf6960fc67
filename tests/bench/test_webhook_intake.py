"""The intake bench still works end to end: three servers, tiny loads, both phases and the doc."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = """# Performance

Kept as it is.

<!-- bench:webhook_intake -->
stale numbers
<!-- /bench:webhook_intake -->

<!-- bench:saturated_intake -->
stale rates
<!-- /bench:saturated_intake -->

## GitHub API calls per run
Kept too.
"""


@pytest.mark.slow
def test_bench_measures_every_target_and_rewrites_only_its_section(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(DOC)
    out = tmp_path / "run.json"
    # 20 measured requests at 50/s after a short warm-up.
    tiny = ["--rate", "50", "--seconds", "0.4", "--warmup", "0.2", "--settle", "0.2"]
    # And one 1 s round of wrk per target.
    tiny += ["--rounds", "1", "--round-seconds", "1", "--saturated-warmup", "1"]
    argv = [
        sys.executable,
        "bench/webhook_intake.py",
        *tiny,
        "--json",
        str(out),
        "--write",
        str(doc),
    ]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    data = json.loads(out.read_text())
    results = {r["name"]: r for r in data["results"]}
    assert list(results) == ["baton", "bare", "probot"]
    for name, result in results.items():
        summary = result["summary"]
        assert summary is not None, f"{name}: {result['missing']}"
        assert summary["count"] == 20
        assert summary["errors"] == 0, summary["statuses"]
        assert 0 < summary["p50_ms"] <= summary["p90_ms"] <= summary["p99_ms"] <= summary["max_ms"]
        assert result["idle"]["rss_kib"] > 0
    assert set(data["ratios"]) == {"baton/bare", "baton/probot"}
    for row in data["ratios"].values():
        assert all(math.isfinite(v) and v > 0 for v in row.values())

    saturated = data["saturated"]
    rounds = {r["name"]: r for r in saturated["results"]}
    assert list(rounds) == ["baton", "bare", "probot"]
    for name, result in rounds.items():
        assert result["missing"] == "", f"{name}: {result['missing']}"
        (only,) = result["rounds"]
        assert only["requests"] > 0
        assert only["errors"] == 0
    assert set(saturated["ratios"]) == {"baton/bare", "baton/probot"}
    assert all(v > 0 for values in saturated["ratios"].values() for v in values)

    text = doc.read_text()
    assert "stale numbers" not in text
    assert "stale rates" not in text
    assert "## Saturated webhook intake" in text
    assert "<!-- /bench:webhook_intake -->\n\n<!-- bench:saturated_intake -->\n" in text
    assert text.startswith("# Performance\n\nKept as it is.\n\n<!-- bench:webhook_intake -->\n")
    assert text.endswith(
        "<!-- /bench:saturated_intake -->\n\n## GitHub API calls per run\nKept too.\n"
    )
    for name in results:
        assert f"\n| {name} | " in text
    assert "baton/bare" in text
    assert "baton/probot" in text
