"""What the demo prints of its pull request: the facts, the provenance table, the commit's
trailers, the check run and the diff's stat (pure: GitHub's JSON in, text out)."""

from __future__ import annotations

import json

from bot.demo_report import PullFacts, diff_stat, report, table_lines, trailers

MESSAGE = (
    "Fix add() in calc.py\n\nIt subtracted.\n\n"
    "Agent: demo\nAgent-Model: scripted-1\nAgent-Cost-USD: 0.0087\nBaton-Run: r1\n"
)
MARKER = {
    "runs": [
        {
            "agent": "demo",
            "adapter": "scripted",
            "model": "scripted-1",
            "cost_usd": 0.0087,
            "cost_source": "reported",
            "input_tokens": 1200,
            "output_tokens": 340,
            "duration_s": 0.01,
        }
    ]
}
BODY = (
    "Fixed it.\n\nFixes #1\n\n### Provenance\n\n| run | agent |\n|---|---|\n| `r1` | demo |\n\n"
    f"_Opened by Baton._\n<!-- baton:provenance {json.dumps(MARKER)} -->"
)
PR = {
    "number": 2,
    "title": "add() subtracts",
    "html_url": "http://127.0.0.1:1/octocat/calculator/pull/2",
    "head": {"ref": "baton/1-add", "sha": "0123456789abcdef"},
    "base": {"ref": "main"},
    "body": BODY,
}
CHECK = {
    "name": "Baton",
    "status": "completed",
    "conclusion": "success",
    "output": {"title": "demo · scripted-1", "summary": "| | |\n|---|---|\n| agent | demo |"},
}
FILES = [{"filename": "calc.py", "additions": 1, "deletions": 1}]


def test_trailers_are_the_last_paragraphs_key_value_lines() -> None:
    assert trailers(MESSAGE) == [
        "Agent: demo",
        "Agent-Model: scripted-1",
        "Agent-Cost-USD: 0.0087",
        "Baton-Run: r1",
    ]
    assert trailers("Just a message\n\nIt has no trailers.") == []
    assert trailers("Fix\n\nAgent: demo\nand then prose") == []  # not every line is one


def test_the_first_table_of_a_body() -> None:
    assert table_lines(BODY) == ["| run | agent |", "|---|---|", "| `r1` | demo |"]
    assert table_lines("no table") == []


def test_the_diff_stat_reads_like_gits() -> None:
    files = [
        {"filename": "calc.py", "additions": 1, "deletions": 1},
        {"filename": "docs/long-name.md", "additions": 120, "deletions": 0},
    ]
    assert diff_stat(files) == [
        "calc.py           | 2 +-",
        "docs/long-name.md | 120 " + "+" * 40,
        "2 files changed, 121 insertions(+), 1 deletion(-)",
    ]
    assert diff_stat(FILES) == ["calc.py | 2 +-", "1 file changed, 1 insertion(+), 1 deletion(-)"]


def test_the_report_has_every_section() -> None:
    text = report(
        PullFacts(pr=PR, commit_message=MESSAGE, check_runs=[CHECK], files=FILES),
        status="<!-- baton:status -->\n**Baton** · ✅ Done",
        elapsed_s=1.25,
    )

    assert "Pull request #2: add() subtracts\n" in text
    assert "  cost:     $0.0087 (reported)\n" in text
    assert "Provenance (the PR body's table):\n  | run | agent |\n" in text
    assert "Commit 0123456789 trailers:\n  Agent: demo\n" in text
    assert "Check run Baton: success (demo · scripted-1)\n  | | |\n" in text
    assert "Diff:\n  calc.py | 2 +-\n  1 file changed" in text
    assert text.endswith("Status comment (final):\n**Baton** · ✅ Done\n")
