"""Every SQL statement of the SQLite job queue, in one place (the schema is in bot.store)."""

from __future__ import annotations

JOB_COLUMNS = (
    "id, task, args, status, lock, dedupe_key, attempts, max_attempts,"
    " created_at, scheduled_at, started_at, finished_at, error"
)

# A queued job may start when it is due and its lock is free: no running job holds it and no
# older queued job waits for it (so jobs of one lock run in submission order, as procrastinate's
# fetch rule does, even when the older one is waiting for a retry).
_CLAIMABLE = """
    j.status = 'queued' AND j.scheduled_at <= :now
    AND (j.lock IS NULL OR NOT EXISTS (
        SELECT 1 FROM jobs AS o
        WHERE o.lock = j.lock
          AND (o.status = 'running' OR (o.status = 'queued' AND o.id < j.id))))
"""

# One statement: the choice and the state change are atomic, whatever else writes the file.
CLAIM = f"""
UPDATE jobs SET status = 'running', started_at = :now, attempts = attempts + 1
WHERE id = (SELECT j.id FROM jobs AS j WHERE {_CLAIMABLE} ORDER BY j.id LIMIT 1)
RETURNING id, task, args, attempts, max_attempts
"""  # noqa: S608 - a constant fragment, no input

ANY_CLAIMABLE = f"SELECT EXISTS (SELECT 1 FROM jobs AS j WHERE {_CLAIMABLE})"  # noqa: S608

NEXT_SCHEDULED = "SELECT min(scheduled_at) FROM jobs WHERE status = 'queued' AND scheduled_at > ?"

RECORD_DELIVERY = (
    "INSERT INTO deliveries (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"
)
LINK_DELIVERY = "UPDATE deliveries SET job_id = ? WHERE id = ?"

QUEUED_WITH_KEY = "SELECT id FROM jobs WHERE dedupe_key = ? AND status = 'queued' AND id != ?"

INSERT_JOB = """
INSERT INTO jobs (task, args, status, lock, dedupe_key, max_attempts, created_at, scheduled_at)
VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)
"""

CANCEL_QUEUED = (
    "UPDATE jobs SET status = 'cancelled', finished_at = ?, error = ?"
    " WHERE id = ? AND status = 'queued'"
)

FINISH = (
    "UPDATE jobs SET status = ?, finished_at = ?, error = ? WHERE id = ? AND status = 'running'"
)

REQUEUE = (
    "UPDATE jobs SET status = 'queued', scheduled_at = ?, error = coalesce(?, error),"
    " attempts = attempts - ?"
    " WHERE id = ? AND status = 'running'"
)

RUNNING_JOBS = (
    "SELECT id, dedupe_key, attempts, max_attempts FROM jobs WHERE status = 'running' ORDER BY id"
)

RUNNING_WITH_LOCK = "SELECT id FROM jobs WHERE lock = ? AND status = 'running'"

GET_JOB = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"  # noqa: S608


COUNT_BY_STATUS = "SELECT COUNT(*) FROM jobs WHERE status = ?"


def list_jobs(*, by_status: bool, by_lock: bool) -> str:
    """The listing query, filtered by whichever parameters are given (in that order)."""
    where = [clause for clause, on in (("status = ?", by_status), ("lock = ?", by_lock)) if on]
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {JOB_COLUMNS} FROM jobs{condition} ORDER BY id"  # noqa: S608


PURGE_JOBS = (
    "DELETE FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?"
)
PURGE_DELIVERIES = "DELETE FROM deliveries WHERE received_at < ?"
