"""The SQL of the PostgreSQL job queue beyond procrastinate's own (`procrastinate.sql.queries`).

Statements that change a running job go through procrastinate's SQL functions, under a row lock
taken with the job's worker id: a worker whose job was taken back (it stopped answering) can
never record an outcome over the new attempt's.
"""

from __future__ import annotations

QUEUE = "baton"
# procrastinate's triggers NOTIFY here when a job of the queue is inserted or asked to abort.
CHANNEL = f"procrastinate_queue_v1#{QUEUE}"

# Procrastinate's statuses, by Baton's (`aborting` is legacy; `aborted` is a cancelled run).
STATUSES: dict[str, tuple[str, ...]] = {
    "queued": ("todo",),
    "running": ("doing", "aborting"),
    "succeeded": ("succeeded",),
    "failed": ("failed",),
    "cancelled": ("cancelled", "aborted"),
}
FINAL = ("succeeded", "failed", "cancelled", "aborted")

# A job as Baton shows it; its times come from procrastinate's event log.
_INFO = """
SELECT j.id, j.task_name, j.args, j.status::text, j.lock, j.queueing_lock, j.attempts,
       extract(epoch FROM j.scheduled_at),
       (SELECT extract(epoch FROM min(e.at)) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'deferred'),
       (SELECT extract(epoch FROM max(e.at)) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'started'),
       (SELECT extract(epoch FROM max(e.at)) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')),
       x.error
  FROM procrastinate_jobs j LEFT JOIN job_errors x ON x.job_id = j.id
"""
GET_JOB = _INFO + " WHERE j.id = %s"
LIST_JOBS = (
    _INFO
    + """ WHERE j.queue_name = %(queue)s
   AND (%(statuses)s::text[] IS NULL OR j.status::text = ANY(%(statuses)s::text[]))
   AND (%(lock)s::text IS NULL OR j.lock = %(lock)s)
 ORDER BY j.id"""
)
COUNT = (
    "SELECT count(*) FROM procrastinate_jobs"
    " WHERE queue_name = %s AND status::text = ANY(%s::text[])"
)
RUNNING_WITH_LOCK = (
    "SELECT id FROM procrastinate_jobs WHERE lock = %s AND status = 'doing' ORDER BY id LIMIT 1"
)
QUEUED_WITH_KEY = (
    "SELECT id FROM procrastinate_jobs"
    " WHERE queueing_lock = %s AND status = 'todo' AND id != %s ORDER BY id LIMIT 1"
)

RECORD_DELIVERY = (
    "INSERT INTO deliveries (id, received_at) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING"
)
LINK_DELIVERY = "UPDATE deliveries SET job_id = %s WHERE id = %s"

SET_ERROR = (
    "INSERT INTO job_errors (job_id, error) VALUES (%s, %s)"
    " ON CONFLICT (job_id) DO UPDATE SET error = excluded.error"
)

# The same rule as procrastinate_fetch_job_v2, without taking the job: is anything due?
ANY_DUE = """
SELECT EXISTS (
  SELECT 1 FROM procrastinate_jobs j
   WHERE j.queue_name = %s AND j.status = 'todo'
     AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
     AND NOT EXISTS (
       SELECT 1 FROM procrastinate_jobs o
        WHERE j.lock IS NOT NULL AND o.lock = j.lock
          AND (o.status = 'doing' OR (o.status = 'todo' AND o.id < j.id))))
"""

# The running job, if it is still this worker's, locked until the transaction ends.
MINE_FOR_UPDATE = (
    "SELECT attempts, abort_requested, queueing_lock FROM procrastinate_jobs"
    " WHERE id = %s AND status = 'doing' AND worker_id IS NOT DISTINCT FROM %s FOR UPDATE"
)
FINISH = "SELECT procrastinate_finish_job_v1(%s, %s::procrastinate_job_status, false)"
RETRY = "SELECT procrastinate_retry_job_v2(%s, now() + make_interval(secs => %s), NULL, NULL, NULL)"
# procrastinate counts every attempt it retries; a shutdown's does not count for Baton.
REFUND = "UPDATE procrastinate_jobs SET attempts = attempts - 1 WHERE id = %s AND attempts > 0"
CANCEL = "SELECT procrastinate_cancel_job_v1(%s, true, false)"
STATUS = "SELECT status::text FROM procrastinate_jobs WHERE id = %s"

HEARTBEAT = "UPDATE procrastinate_workers SET last_heartbeat = now() WHERE id = %s RETURNING id"
MY_ABORTS = (
    "SELECT id FROM procrastinate_jobs"
    " WHERE status = 'doing' AND abort_requested AND worker_id = %s"
)
# Running jobs whose worker stopped beating (or was pruned), as the heartbeat bound sees them.
STALLED = """
SELECT j.id, j.worker_id, j.attempts, j.abort_requested, j.args
  FROM procrastinate_jobs j
  LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
 WHERE j.queue_name = %s AND j.status = 'doing'
   AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %s))
 ORDER BY j.id
"""
STALLED_FOR_UPDATE = (
    "SELECT attempts, abort_requested, queueing_lock FROM procrastinate_jobs"
    " WHERE id = %s AND status = 'doing' AND worker_id IS NOT DISTINCT FROM %s FOR UPDATE"
)
PRUNE_WORKERS = (
    "DELETE FROM procrastinate_workers"
    " WHERE last_heartbeat < now() - make_interval(secs => %s) RETURNING id"
)

# A finished job goes once none of its events is newer than the cutoff.
PURGE_JOBS = """
DELETE FROM procrastinate_jobs j
 WHERE j.queue_name = %s AND j.status::text = ANY(%s::text[])
   AND NOT EXISTS (SELECT 1 FROM procrastinate_events e
                    WHERE e.job_id = j.id AND e.at >= to_timestamp(%s))
"""
PURGE_DELIVERIES = "DELETE FROM deliveries WHERE received_at < %s"
