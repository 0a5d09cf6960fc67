"""The ordered list of schema migrations of Baton's database, SQLite and PostgreSQL alike.

One history for both: each migration's `sql` is written so that both accept it (TEXT, INTEGER,
REAL, no AUTOINCREMENT in new tables, booleans as INTEGER 0/1, times as epoch seconds in REAL);
on PostgreSQL `bot.store.pgschema` widens INTEGER to BIGINT and REAL to DOUBLE PRECISION, so ids
from GitHub and epoch times keep every digit. A migration whose tables differ between the two
(the job queue: SQLite's own `jobs` table, procrastinate's tables on PostgreSQL) gives its
PostgreSQL text in `postgresql`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, kw_only=True)
class Migration:
    """One schema change; `version` is its place in the list and never changes once released."""

    version: int
    name: str
    sql: str
    # Its text on PostgreSQL when that differs from `sql` (read when applied, not at import).
    postgresql: Callable[[], str] | None = None


# The procrastinate release whose schema is Baton's migration 1 on PostgreSQL (pyproject pins
# it). A newer procrastinate ships its changes as files in procrastinate/sql/migrations: append
# them as a new migration here, and keep migration 1 this release's schema.
PROCRASTINATE_VERSION = "3.10.0"


def procrastinate_schema() -> str:
    """The pinned procrastinate's own schema: its jobs, events, workers and SQL functions."""
    import procrastinate  # noqa: PLC0415 - only a PostgreSQL upgrade needs it

    if procrastinate.__version__ != PROCRASTINATE_VERSION:
        from bot.store.errors import MigrationError  # noqa: PLC0415

        raise MigrationError(
            f"procrastinate {procrastinate.__version__} is installed, but Baton's migrations "
            f"were written for {PROCRASTINATE_VERSION}: install the version pyproject.toml pins"
        )
    return (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")


# Append only: a released migration is never edited, a fix is a new migration.
# Status values are `bot.queue.JobStatus` values. Times are seconds since the epoch (REAL).
_DELIVERIES_AND_JOBS = """
CREATE TABLE jobs (
    -- AUTOINCREMENT: a job id is shown to users and stored in the ledger, so it is never reused.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT NOT NULL,
    args TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    lock TEXT,
    dedupe_key TEXT,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    created_at REAL NOT NULL,
    scheduled_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT
);
-- The database enforces the two promises of the queue, whatever the code above it does:
-- at most one queued job per dedupe key, at most one running job per lock.
CREATE UNIQUE INDEX jobs_one_queued_per_dedupe_key ON jobs (dedupe_key)
    WHERE status = 'queued' AND dedupe_key IS NOT NULL;
CREATE UNIQUE INDEX jobs_one_running_per_lock ON jobs (lock)
    WHERE status = 'running' AND lock IS NOT NULL;
CREATE INDEX jobs_by_status_schedule ON jobs (status, scheduled_at);
CREATE INDEX jobs_by_lock ON jobs (lock, id) WHERE lock IS NOT NULL;

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    -- The job the delivery enqueued or was coalesced into; NULL when it started nothing.
    job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL
);
CREATE INDEX deliveries_by_job ON deliveries (job_id) WHERE job_id IS NOT NULL;
"""

# On PostgreSQL the jobs are procrastinate's (`procrastinate_jobs`, worked by
# `bot.queue.postgres`); the failure reason procrastinate does not keep goes beside them.
_DELIVERIES_AND_JOBS_POSTGRESQL = """
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    received_at DOUBLE PRECISION NOT NULL,
    job_id BIGINT REFERENCES procrastinate_jobs (id) ON DELETE SET NULL
);
CREATE INDEX deliveries_by_job ON deliveries (job_id) WHERE job_id IS NOT NULL;
CREATE TABLE job_errors (
    job_id BIGINT PRIMARY KEY REFERENCES procrastinate_jobs (id) ON DELETE CASCADE,
    error TEXT NOT NULL
);
"""


def _deliveries_and_jobs_postgresql() -> str:
    return procrastinate_schema() + _DELIVERIES_AND_JOBS_POSTGRESQL


# The ledger: one row per agent run (bot.ledger.RunRecord); statuses are RunStatus values plus
# queued, running and refused.
_RUNS_LEDGER = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    job_id INTEGER,
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    is_pull_request INTEGER NOT NULL DEFAULT 0,
    trigger TEXT NOT NULL,
    verb TEXT NOT NULL,
    requester TEXT NOT NULL,
    agent TEXT NOT NULL DEFAULT '',
    adapter TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    harness_version TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    branch TEXT NOT NULL DEFAULT '',
    pr_number INTEGER,
    pr_url TEXT NOT NULL DEFAULT '',
    commit_sha TEXT NOT NULL DEFAULT '',
    comment_id INTEGER,
    check_run_id INTEGER,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    turns INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    cost_source TEXT NOT NULL DEFAULT 'unknown',
    price_date TEXT,
    summary TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    session_id TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    duration_s REAL
);
CREATE INDEX runs_by_target ON runs (repo, number, created_at);
CREATE INDEX runs_by_time ON runs (created_at);
"""

# Each run's event log (bot.store.RunEvent): `seq` counts from 1 per run; `data` is a JSON
# object. Claims: a key held by one owner until `expires_at`, so work meant to happen once
# (a run's status comment) happens once across the processes sharing this file.
_RUN_EVENTS_AND_CLAIMS = """
CREATE TABLE run_events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

# Budgets (issue 8): what a run's cost cap was and which key set it, its label (the history
# estimate compares runs of the same label), reservations of running runs' caps against the
# monthly budgets, and the monthly caps each scope last ran under (for `baton spend`).
_BUDGETS = """
ALTER TABLE runs ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cost_cap_usd DOUBLE PRECISION;
ALTER TABLE runs ADD COLUMN cost_cap_by TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_by_agent ON runs (repo, agent, created_at);
CREATE TABLE reservations (
    run_id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    owner TEXT NOT NULL,
    requester TEXT NOT NULL,
    amount_usd DOUBLE PRECISION NOT NULL CHECK (amount_usd >= 0),
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX reservations_by_expiry ON reservations (expires_at);
CREATE TABLE budget_caps (
    scope TEXT NOT NULL CHECK (scope IN ('repo', 'org', 'requester')),
    name TEXT NOT NULL,
    limit_usd DOUBLE PRECISION,
    source TEXT NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, name)
);
"""

# Metric values: counts that worker processes add to and gauges they set (GitHub calls, the
# rate limit, agent process failures), so the process serving `/metrics` reports every
# worker's, on this machine or another.
_METRIC_VALUES = """
CREATE TABLE metric_values (
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (name, labels)
);
"""

# Facts about Baton's own pull requests from GitHub's webhooks (bot.store.pulls.PullEvent),
# written once per key; the scoreboard folds them. Checks of a commit no PR had yet carry
# number 0. `received_at` orders facts GitHub stamped with the same second.
_PULL_EVENTS = """
CREATE TABLE pull_events (
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (repo, key)
);
CREATE INDEX pull_events_by_pull ON pull_events (repo, number, at);
CREATE INDEX pull_events_by_time ON pull_events (at);
"""

# The periodic cleanup deletes by age: deliveries past GitHub's redelivery window and run events
# past their retention. `removed_repos`: repositories an installation lost (uninstalled,
# suspended, deselected), so every worker machine drops its mirror of them and `baton purge
# --installation` knows which ledger rows were that installation's.
_RETENTION_AND_OFFBOARDING = """
CREATE INDEX deliveries_by_time ON deliveries (received_at);
CREATE INDEX run_events_by_time ON run_events (time);
CREATE TABLE removed_repos (
    repo TEXT NOT NULL,
    installation_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    removed_at REAL NOT NULL,
    PRIMARY KEY (repo, installation_id)
);
CREATE INDEX removed_repos_by_time ON removed_repos (removed_at);
"""

MIGRATIONS: list[Migration] = [
    Migration(
        version=1,
        name="deliveries and jobs",
        sql=_DELIVERIES_AND_JOBS,
        postgresql=_deliveries_and_jobs_postgresql,
    ),
    Migration(version=2, name="runs ledger", sql=_RUNS_LEDGER),
    # The remote head a run's push may replace, fixed when its worktree is made: a retried job
    # must not take a head someone pushed meanwhile as its lease.
    Migration(
        version=3,
        name="runs lease",
        sql="ALTER TABLE runs ADD COLUMN lease_sha TEXT NOT NULL DEFAULT '';\n"
        # The head a fresh retry replaced, kept reachable as a tag the PR body names.
        "ALTER TABLE runs ADD COLUMN replaced_sha TEXT NOT NULL DEFAULT '';",
    ),
    # The agent's network (`none`: its model API only; `host`: allowed by the org), shown in
    # the run's provenance.
    Migration(
        version=4,
        name="runs network",
        sql="ALTER TABLE runs ADD COLUMN network TEXT NOT NULL DEFAULT '';",
    ),
    Migration(version=5, name="run events and claims", sql=_RUN_EVENTS_AND_CLAIMS),
    Migration(version=6, name="budgets and reservations", sql=_BUDGETS),
    Migration(version=7, name="metric values", sql=_METRIC_VALUES),
    Migration(version=8, name="pull request facts", sql=_PULL_EVENTS),
    Migration(version=9, name="retention and offboarding", sql=_RETENTION_AND_OFFBOARDING),
]
