"""One line of `baton doctor`: what was checked, how it went, and what to do when it failed."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    PASSED = "✓"
    FAILED = "✗"
    # Not checked: something it needs failed first (that line says what to do).
    SKIPPED = "-"
    # Information only (a limit this machine cannot enforce per run): never fails the doctor.
    NOTE = "·"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    advice: str = ""


def passed(name: str, detail: str) -> Check:
    return Check(name, Outcome.PASSED, detail)


def failed(name: str, detail: str, advice: str) -> Check:
    return Check(name, Outcome.FAILED, detail, advice)


def skipped(name: str, because: str) -> Check:
    return Check(name, Outcome.SKIPPED, f"not checked: {because}")


def note(name: str, detail: str) -> Check:
    return Check(name, Outcome.NOTE, detail)


def all_passed(checks: list[Check]) -> bool:
    """True when no line failed or was left unchecked."""
    return all(c.outcome in {Outcome.PASSED, Outcome.NOTE} for c in checks)
