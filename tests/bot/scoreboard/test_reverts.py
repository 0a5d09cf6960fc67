"""Which merged PR reverts which: GitHub's Revert button and git revert's own message."""

from __future__ import annotations

from bot.scoreboard.facts import fold
from bot.scoreboard.reverts import Reverting, references, reverted_by
from tests.bot.scoreboard.helpers import REPO, merged, opened, pushed


def test_githubs_revert_button_names_the_pr() -> None:
    assert references(REPO, f"Reverts {REPO}#12") == Reverting(numbers=(12,))
    assert references(REPO, "reverts #12 and reverts #13").numbers == (12, 13)


def test_another_repositorys_pr_is_not_this_ones() -> None:
    assert not references(REPO, "Reverts other/repo#12")


def test_git_revert_names_the_commit() -> None:
    text = 'Revert "Fix add"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.'
    assert references(REPO, text).shas == ("0123456789abcdef0123456789abcdef01234567",)


def test_a_pr_that_only_mentions_reverting_reverts_nothing() -> None:
    assert not references(REPO, "We should revert #12 if it breaks again")


def test_reverted_by_matches_numbers_merge_commits_and_heads_of_merged_prs() -> None:
    pulls = fold(
        [
            opened(1, head="aaaa111"),
            merged(1, 5.0, "beef1234"),
            opened(2, head="cccc222"),
            pushed(2, 3.0, "dddd333", by_baton=True),
            merged(2, 5.0),
            opened(3, head="eeee444"),  # still open: nothing to revert
        ]
    ).values()
    assert reverted_by(Reverting(numbers=(1, 3)), pulls, revert_number=9) == [1]
    assert reverted_by(Reverting(shas=("beef123",)), pulls, revert_number=9) == [1]
    assert reverted_by(Reverting(shas=("dddd333",)), pulls, revert_number=9) == [2]
    assert reverted_by(Reverting(numbers=(1,)), pulls, revert_number=1) == []
