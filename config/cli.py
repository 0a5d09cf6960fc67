"""`baton config check` and `baton config schema`: validate config files and explain the result."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from config.defaults import KNOWN_ADAPTERS
from config.guard import Operator
from config.loader import (
    MAX_BYTES,
    ConfigError,
    ConfigIssue,
    Located,
    load_org_file,
    load_repo_file,
)
from config.merge import effective_config
from config.orgschema import org_json_schema
from config.render import json_schema, render_effective
from config.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

__all__ = ["check_main", "schema_main"]

DEFAULT_REPO_FILE = ".agents.yml"
_SCHEMA_USAGE = (
    "baton config schema [--org]  (prints the JSON Schema of .agents.yml; --org: of the org's "
    "agents.yml in its settings repository)"
)


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors to the caller instead of exiting the process."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _check_parser() -> _Parser:
    parser = _Parser(
        prog="baton config check",
        add_help=False,
        description="Validate .agents.yml (and the org's agents.yml) and print the effective "
        "config with the source of every value. Exit 1 on errors.",
    )
    parser.add_argument(
        "file", nargs="?", help=f"the repo config (default: {DEFAULT_REPO_FILE}, if it exists)"
    )
    parser.add_argument("--org", metavar="FILE", help="the org's agents.yml")
    parser.add_argument(
        "--repo",
        metavar="NAME",
        help="repository name for the org's `repos` patterns (default: the file's directory name)",
    )
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    return parser


def _read(path: Path, shown: str) -> str:
    """The file's text; ConfigError with a one-line reason when it cannot be read."""
    try:
        with path.open("rb") as handle:
            # Read one byte past the limit so the loader can report an oversized file.
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(shown, 0, 0, f"cannot read: {exc.strerror or exc}")]
        ) from exc
    if len(raw) > MAX_BYTES:
        return raw.decode("utf-8", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start} cannot be decoded)"
        raise ConfigError([ConfigIssue(shown, 0, 0, message)]) from exc


def _load(shown: str, loader: Callable[..., Located], issues: list[ConfigIssue]) -> Located | None:
    try:
        return loader(_read(Path(shown), shown), file=shown)
    except ConfigError as exc:
        issues.extend(exc.issues)
        return None


def _report(issues: list[ConfigIssue], err: TextIO) -> int:
    err.writelines(f"{issue}\n" for issue in issues)
    noun = "error" if len(issues) == 1 else "errors"
    err.write(f"{len(issues)} {noun}\n")
    return 1


def check_main(argv: list[str], *, out: TextIO, err: TextIO) -> int:
    """Run `baton config check [FILE] [--org FILE] [--repo NAME]`; returns the exit code."""
    parser = _check_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        err.write(parser.format_usage())
        err.write(f"baton config check: error: {exc}\n")
        return 2
    if args.help:
        out.write(parser.format_help())
        return 0
    issues: list[ConfigIssue] = []
    repo_file: str | None = args.file
    # Without an explicit FILE a missing .agents.yml is fine: the repo just uses org/built-in.
    if repo_file is None and Path(DEFAULT_REPO_FILE).is_file():
        repo_file = DEFAULT_REPO_FILE
    repo = _load(repo_file, load_repo_file, issues) if repo_file is not None else None
    org = _load(args.org, load_org_file, issues) if args.org is not None else None
    if args.repo:
        repo_name: str = args.repo
    else:
        repo_name = Path(repo_file).resolve().parent.name if repo_file else Path.cwd().name
    if not issues:
        try:
            effective = effective_config(
                repo=repo, org=org, repo_name=repo_name, known_adapters=KNOWN_ADAPTERS,
                operator=_operator(),
            )  # fmt: skip
        except ConfigError as exc:
            issues.extend(exc.issues)
    if issues:
        return _report(issues, err)
    files = [name for name in (repo_file, args.org) if name is not None] or ["built-in defaults"]
    out.write(f"# effective config for repository {repo_name!r} from {', '.join(files)}\n")
    out.write(render_effective(effective))
    for warning in effective.warnings:
        place = str(ConfigIssue(warning.file, warning.line, warning.col, "")).rstrip(" ")
        err.write(f"{place} warning: {warning.message}\n")
    return 0


def schema_main(argv: list[str], *, out: TextIO, err: TextIO | None = None) -> int:
    """Run `baton config schema [--org]`: print the JSON Schema of `.agents.yml` (or the org's)."""
    if argv in (["-h"], ["--help"]):
        out.write(f"usage: {_SCHEMA_USAGE}\n")
        return 0
    if argv not in ([], ["--org"]):
        message = "takes only --org"
        (err or out).write(f"usage: {_SCHEMA_USAGE}\nbaton config schema: error: {message}\n")
        return 2
    schema = org_json_schema() if argv else json_schema()
    out.write(json.dumps(schema, indent=2) + "\n")
    return 0


def _operator() -> Operator:
    """This machine's operator allowances, so a check says what `baton serve` would refuse."""
    try:
        settings = load_settings(dict(os.environ))
    except SettingsError:
        return Operator()
    return Operator.from_settings(settings, os.environ)
