"""The scale-out bench still works end to end at a tiny size, and rewrites only its section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres import bin_dir

REPO = Path(__file__).resolve().parents[2]
DOC = """# Performance

<!-- bench:scale_out -->
stale scale-out numbers
<!-- /bench:scale_out -->

## Kept
Kept as it is.
"""


@pytest.mark.slow
def test_scale_out_bench_measures_each_part_and_rewrites_its_section(tmp_path: Path) -> None:
    if bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): no initdb here")
    doc = tmp_path / "performance.md"
    doc.write_text(DOC)
    out = tmp_path / "run.json"
    tiny = ["--runs", "3", "--workers", "1", "--files", "120", "--commits", "30", "--agent-s", "1"]
    tiny += ["--pickup-jobs", "5", "--ack-rate", "20", "--ack-seconds", "1"]
    argv = [sys.executable, "bench/scale_out.py", *tiny, "--json", str(out), "--write", str(doc)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    data = json.loads(out.read_text())
    [runs] = data["runs"]
    assert (runs["workers"], runs["runs"], runs["ok"]) == (1, 3, 3)
    assert runs["runs_per_minute"] > 0
    assert runs["statements_per_run"]  # PostgreSQL's log was read, by client name
    assert data["queue_pickup"]["postgresql_ms"]["n"] == 5
    assert data["webhook_ack"]["sqlite"]["errors"] == 0
    assert data["webhook_ack"]["postgresql"]["errors"] == 0
    assert data["mirror"]["first_s"] > 0
    assert data["mirror"]["second_s"] > 0
    text = doc.read_text()
    assert "stale scale-out numbers" not in text
    assert "## Scale-out on PostgreSQL" in text
    assert text.endswith("## Kept\nKept as it is.\n")
