"""The durable job queue: the JobQueue protocol, its values, and the embedded SQLite queue."""

from bot.queue.base import (
    JobContext,
    JobHandler,
    JobInfo,
    JobQueue,
    JobStatus,
    NewJob,
    RetryLater,
    Submitted,
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
    "RetryLater",
    "SQLiteJobQueue",
    "Submitted",
    "cancel_requested",
]
