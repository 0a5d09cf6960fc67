"""Which of Baton's merged pull requests a merged pull request reverts (pure).

The rule: a pull request merged into the same repository reverts Baton's PR N when its title or
body says so the way GitHub and git write it:
- `Reverts owner/repo#N` (or `Reverts #N`): what GitHub's "Revert" button writes in the body;
- `This reverts commit <sha>`: what `git revert` writes in the commit message (GitHub puts a
  one-commit PR's message in its body), where <sha> (7 hex digits or more) is N's merge commit
  or a commit N had as a head (a squash or rebase merge, or a revert of one commit).
It counts when that revert is merged within 14 days of N's merge (`bot.scoreboard.facts`). A
revert pushed straight to a branch with no pull request is not seen: Baton does not subscribe
to `push`, which would send it every push of every repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bot.scoreboard.facts import PullFacts

_REVERTS_PR = re.compile(
    r"\breverts\s+(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<number>\d+)\b", re.IGNORECASE
)
_REVERTS_COMMIT = re.compile(r"\bthis reverts commit (?P<sha>[0-9a-f]{7,40})\b", re.IGNORECASE)
MAX_REFERENCES = 20  # a body listing more is not a revert of them all


@dataclass(frozen=True, slots=True)
class Reverting:
    """What a merged PR's text says it reverts: PR numbers of its own repository, and commits."""

    numbers: tuple[int, ...] = ()
    shas: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.numbers or self.shas)


def references(repo: str, text: str) -> Reverting:
    """The PRs (of `repo`) and commits `text` says it reverts."""
    numbers = [
        int(m["number"])
        for m in _REVERTS_PR.finditer(text)
        if m["repo"] is None or m["repo"].lower() == repo.lower()
    ]
    shas = [m["sha"].lower() for m in _REVERTS_COMMIT.finditer(text)]
    return Reverting(
        numbers=tuple(dict.fromkeys(numbers))[:MAX_REFERENCES],
        shas=tuple(dict.fromkeys(shas))[:MAX_REFERENCES],
    )


def reverted_by(
    reverting: Reverting, pulls: Iterable[PullFacts], *, revert_number: int
) -> list[int]:
    """The merged PRs among `pulls` (one repository's) that `reverting` names."""
    out = []
    for pull in pulls:
        if not pull.merged or pull.number == revert_number:
            continue
        commits = [pull.merge_sha, pull.first_head, *(h.sha for h in pull.heads)]
        by_sha = any(c and c.startswith(s) for s in reverting.shas for c in commits)
        if pull.number in reverting.numbers or by_sha:
            out.append(pull.number)
    return sorted(out)
