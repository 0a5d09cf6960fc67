"""Intake: pure handlers that turn a verified webhook into nothing or a job, routed by event."""

from bot.intake.routing import Enqueue, Ignore, IntakeContext, Record, Router, decide


def intake_router() -> Router:
    """Every behaviour's router, composed (one module per behaviour)."""
    # Behaviour modules import routing, so they are imported here, not at the top.
    from bot.intake.comments import router as comments  # noqa: PLC0415
    from bot.intake.installations import router as installations  # noqa: PLC0415
    from bot.intake.labels import router as labels  # noqa: PLC0415
    from bot.intake.pulls import router as pulls  # noqa: PLC0415

    router = Router()
    router.include(labels)
    router.include(comments)
    router.include(pulls)
    router.include(installations)
    return router


__all__ = ["Enqueue", "Ignore", "IntakeContext", "Record", "Router", "decide", "intake_router"]
