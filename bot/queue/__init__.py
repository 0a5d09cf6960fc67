"""The durable job queue: the JobQueue protocol, its values, and the embedded SQLite queue
(the PostgreSQL one is `bot.queue.postgres`, imported only where PostgreSQL is used)."""

from bot.queue.base import (
    JobContext,
    JobHandler,
    JobInfo,
    JobQueue,
    JobStatus,
    NewJob,
    PurgedJobs,
    RetryLater,
    Submitted,
    WaitTurn,
    cancel_requested,
)
from bot.queue.sqlite import SQLiteJobQueue

__all__ = [
    "JobContext",
    "JobHandler",
    "JobInfo",
    "JobQueue",
    "JobStatus",
    "NewJob",
    "PurgedJobs",
    "RetryLater",
    "SQLiteJobQueue",
    "Submitted",
    "WaitTurn",
    "cancel_requested",
]
