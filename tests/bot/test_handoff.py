"""The handoff decisions that need no GitHub: which session a follow-up resumes."""

from __future__ import annotations

from bot.handoff import Handoff, resume_session
from bot.ledger import RunRecord


def run(agent: str, session: str | None, *, status: str = "success") -> RunRecord:
    return RunRecord(id=f"r-{agent}", job_id=1, repo="o/r", number=2, trigger="command",
                     verb="fix", requester="me", status=status, created_at=0.0, agent=agent,
                     session_id=session)  # fmt: skip


def handoff(*runs: RunRecord) -> Handoff:
    return Handoff(task_ref="pull request #2", earlier_runs=runs)


def test_a_follow_up_to_the_agent_that_ran_last_resumes_its_session() -> None:
    assert resume_session(handoff(run("codex", "s1"), run("claude", "s2")), "claude") == "s2"


def test_another_agent_or_an_older_session_starts_fresh_with_the_brief() -> None:
    assert resume_session(handoff(run("claude", "s1"), run("codex", "s2")), "claude") is None
    assert resume_session(handoff(run("claude", None)), "claude") is None
    assert resume_session(handoff(), "claude") is None
    assert resume_session(None, "claude") is None
