"""The adapter-overhead bench runs end to end with the scripted agent and rewrites its section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = """# Performance

Kept as it is.

## Orchestration overhead per adapter

<!-- TODO(lead): Baton's own time and memory around each adapter's run, beside the bare CLI. -->

<!-- bench:api_calls -->
Kept too.
<!-- /bench:api_calls -->
"""


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "adapter_overhead.py"), "--agents", "scripted",
         "--reps", "1", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_scripted_run_is_timed_and_the_doc_section_replaced(tmp_path: Path) -> None:
    doc, out = tmp_path / "performance.md", tmp_path / "medians.json"
    doc.write_text(DOC)
    done = bench("--write", str(doc), "--json", str(out))
    assert done.returncode == 0, done.stderr

    spans = json.loads(out.read_text())["agents"]["scripted"]["baton"]
    # After the agent Baton commits, pushes and opens the PR; the check run comes after it.
    assert 0 < spans["exit_pr"] < spans["exit_finished"] < 30
    assert 0 < spans["start_agent"] < spans["label_pr"]
    assert spans["exit_pr"] < spans["label_pr"]
    text = doc.read_text()
    assert "TODO(lead)" not in text
    assert text.count("<!-- bench:adapter_overhead -->") == 1
    ms = {name: f"{value * 1000:.0f}" for name, value in spans.items()}
    assert f"| scripted | {ms['exit_pr']} | {ms['exit_finished']} |" in text
    assert f"| scripted | {ms['start_agent']} | - | - |" in text
    assert text.startswith("# Performance\n\nKept as it is.\n\n")
    assert text.endswith("<!-- bench:api_calls -->\nKept too.\n<!-- /bench:api_calls -->\n")


@pytest.mark.slow
def test_a_second_write_replaces_the_section_it_wrote(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(DOC)
    for _ in range(2):
        done = bench("--write", str(doc))
        assert done.returncode == 0, done.stderr
    text = doc.read_text()
    assert text.count("## Orchestration overhead per adapter") == 1
    assert text.count("<!-- /bench:adapter_overhead -->") == 1


@pytest.mark.slow
def test_a_real_cli_runs_through_baton_bare_and_raw(tmp_path: Path) -> None:
    """The bench's real-CLI path (a base_url the operator allows, the bare run's own scratch):
    one repetition with Codex, the quickest CLI to start."""
    out = tmp_path / "medians.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "adapter_overhead.py"), "--agents", "codex",
         "--reps", "1", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    codex = json.loads(out.read_text())["agents"]["codex"]
    assert set(codex) == {"baton", "bare", "raw"}
    assert codex["bare"]["call_first"] > 0
    assert codex["baton"]["start_first"] > 0
