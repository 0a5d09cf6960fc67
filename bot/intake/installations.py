"""An installation going away: uninstalled, suspended, or losing repositories. Runs there are
cancelled and mirrors removed (`bot.offboard`); the ledger's rows are kept.

GitHub sends these events to every App without a subscription (a manifest may not list them).
"""

from __future__ import annotations

from bot.events import InstallationEvent, InstallationRepositoriesEvent, Payload
from bot.intake.routing import Decision, Ignore, IntakeContext, Record, Router
from bot.offboard import TASK, Offboarding

router = Router()

# Delivered to every App whether or not it asks (app.yml cannot list them: GitHub refuses).
DELIVERED_TO_EVERY_APP = frozenset({"installation", "installation_repositories"})

_REASONS = {"deleted": "uninstalled", "suspend": "suspended"}


@router.register("installation", "deleted")
@router.register("installation", "suspend")
def installation_gone(payload: Payload, ctx: IntakeContext) -> Decision:
    """The App was uninstalled or suspended on an account: everything of the account stops."""
    del ctx
    event = payload.read(InstallationEvent)
    account = event.installation.account
    if account is None:
        return Ignore("installation without its account")
    gone = Offboarding(
        installation_id=event.installation.id,
        owner=account.login,
        repos=(),
        reason=_REASONS.get(event.action, event.action),
    )
    return Record(task=TASK, args=gone.job_args())


@router.register("installation_repositories", "removed")
def repositories_removed(payload: Payload, ctx: IntakeContext) -> Decision:
    """Repositories deselected from the installation: their runs stop, the rest carry on."""
    del ctx
    event = payload.read(InstallationRepositoriesEvent)
    repos = tuple(r.full_name for r in event.repositories_removed)
    if not repos:
        return Ignore("no repository was removed")
    account = event.installation.account
    gone = Offboarding(
        installation_id=event.installation.id,
        owner=account.login if account is not None else repos[0].split("/", 1)[0],
        repos=repos,
        reason="removed from the installation",
    )
    return Record(task=TASK, args=gone.job_args())
