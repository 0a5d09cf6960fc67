"""The dashboard `baton serve` shows: runs, a run's timeline, spend, the scoreboard; behind a
GitHub sign-in (or an operator token) that shows each person only their repositories."""
