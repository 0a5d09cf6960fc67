"""`baton config check` and `baton config schema`: exit codes, output and error lines."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from config.cli import check_main, schema_main

FIXTURES = Path(__file__).parent / "fixtures"

LOCKING_ORG = (
    "enforce:\n  budget:\n    monthly_usd: 500\nrepos:\n  'docs-*': {policy: {draft: true}}\n"
)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check_main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "docs-site"
    repo.mkdir()
    monkeypatch.chdir(repo)
    return repo


def test_without_any_file_prints_the_builtin_config(workdir: Path) -> None:
    code, out, err = run([])
    assert (code, err) == (0, "")
    assert out.startswith("# effective config for repository 'docs-site' from built-in defaults\n")
    assert "  claude-code:\n    adapter: claude-code  # built-in\n" in out


def test_reads_agents_yml_in_the_current_directory(workdir: Path) -> None:
    shutil.copy(FIXTURES / "design_repo.yml", workdir / ".agents.yml")
    code, out, err = run([])
    assert (code, err) == (0, "")
    assert "model: deepseek/deepseek-chat  # from .agents.yml:6:28" in out


def test_errors_are_file_line_col_lines_and_exit_1(workdir: Path) -> None:
    (workdir / "bad.yml").write_text("agents:\n  a: {adapter: aider, modle: x}\n  a: {}\n")
    code, out, err = run(["bad.yml"])
    assert (code, out) == (1, "")
    assert err == (
        "bad.yml:2:23: unknown key 'modle' in agents.a (did you mean 'model'?)\n"
        "bad.yml:3:3: duplicate key 'a' (first at line 2)\n"
        "2 errors\n"
    )


def test_errors_after_the_merge_exit_1(workdir: Path) -> None:
    (workdir / ".agents.yml").write_text("routes:\n  - agent: nobody\n")
    code, _, err = run([])
    assert code == 1
    assert err.startswith(".agents.yml:2:12: route 1 uses unknown agent 'nobody'")


def test_errors_in_both_files_are_all_reported(workdir: Path) -> None:
    (workdir / ".agents.yml").write_text("budgett: {}\n")
    (workdir / "org.yml").write_text("enforce: []\n")
    code, _, err = run(["--org", "org.yml"])
    assert code == 1
    assert err.splitlines() == [
        ".agents.yml:1:1: unknown key 'budgett' (did you mean 'budget'?)",
        "org.yml:1:10: enforce: expected a mapping (key: value), got a list",
        "2 errors",
    ]


def test_org_locks_are_warnings_and_exit_0(workdir: Path) -> None:
    (workdir / ".agents.yml").write_text("budget: {monthly_usd: 50}\n")
    (workdir / "org.yml").write_text(LOCKING_ORG)
    code, out, err = run([".agents.yml", "--org", "org.yml"])
    assert code == 0
    assert err == (
        ".agents.yml:1:10: warning: budget.monthly_usd is locked by the org (org.yml:3:5); "
        "the org's value 500 applies\n"
    )
    assert "monthly_usd: 500  # locked by org.yml:3:5" in out
    # The repo name defaults to the file's directory, so the org's 'docs-*' pattern applies.
    assert "draft: true  # from org.yml:5:23" in out


def test_repo_name_flag_selects_org_patterns(workdir: Path) -> None:
    (workdir / "org.yml").write_text(LOCKING_ORG)
    code, out, _ = run(["--org", "org.yml", "--repo", "acme/api"])
    assert code == 0
    assert "# effective config for repository 'acme/api' from org.yml" in out
    assert "draft: false  # built-in" in out


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        (None, ["missing.yml"], "missing.yml: cannot read: No such file or directory"),
        ("dir", ["adir"], "adir: cannot read: Is a directory"),
        ("latin1", ["latin1.yml"], "latin1.yml: not UTF-8 text (byte 9 cannot be decoded)"),
        (None, ["--org", "nope.yml"], "nope.yml: cannot read: No such file or directory"),
    ],
)
def test_unreadable_files_exit_1_with_a_clear_message(
    workdir: Path, setup: str | None, argv: list[str], message: str
) -> None:
    if setup == "dir":
        (workdir / "adir").mkdir()
    if setup == "latin1":
        (workdir / "latin1.yml").write_bytes(b"version: \xe9\n")
    code, out, err = run(argv)
    assert (code, out) == (1, "")
    assert err.splitlines() == [message, "1 error"]


def test_usage_errors_exit_2(workdir: Path) -> None:
    code, out, err = run(["--bogus"])
    assert (code, out) == (2, "")
    assert "usage: baton config check" in err
    assert "unrecognized arguments: --bogus" in err


def test_help_goes_to_stdout(workdir: Path) -> None:
    code, out, err = run(["--help"])
    assert (code, err) == (0, "")
    assert "--org FILE" in out


def test_schema_prints_the_json_schema() -> None:
    out = io.StringIO()
    assert schema_main([], out=out) == 0
    schema = json.loads(out.getvalue())
    assert schema["$id"].startswith("urn:baton:")
    assert "agents" in schema["properties"]


def test_schema_rejects_arguments() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert schema_main(["x"], out=out, err=err) == 2
    assert out.getvalue() == ""
    assert "usage: baton config schema" in err.getvalue()
