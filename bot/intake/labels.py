"""Label trigger: `issues.labeled` with a label under the configured prefix starts a run."""

from __future__ import annotations

from bot.events import AddedLabel, IssuesEvent, Payload
from bot.intake.routing import Decision, Enqueue, Ignore, IntakeContext, Router, where_from
from bot.trigger import Trigger

router = Router()


@router.register("issues", "labeled", needs=lambda ctx: ctx.label_prefix, head=AddedLabel)
def label_added(payload: Payload, ctx: IntakeContext) -> Decision:
    """A label `<prefix><verb-or-agent>` on an open issue asks for a run; the rest is ignored.

    Who may trigger is checked by the worker against GitHub, never trusted from the payload.
    """
    # The added label alone says whether anything starts; most labels are not triggers.
    added = payload.read(AddedLabel).label
    if added is None or not added.name.startswith(ctx.label_prefix):
        return Ignore("not a trigger label")
    suffix = added.name[len(ctx.label_prefix) :].strip()
    if not suffix:
        return Ignore("bare prefix label")
    event = payload.read(IssuesEvent)
    if event.sender.login == ctx.bot_login:
        return Ignore("label added by Baton itself")
    if event.issue.state != "open":
        return Ignore("issue is closed")
    assert event.installation is not None  # decide() drops payloads without one
    trigger = Trigger(
        kind="label",
        **where_from(ctx, event.repository, event.installation.id),
        html_url=event.issue.html_url,
        number=event.issue.number,
        is_pull_request=event.issue.is_pull_request,
        title=event.issue.title,
        body=event.issue.body or "",
        author=event.issue.user.login,
        requester=event.sender.login,
        requester_is_bot=event.sender.is_bot,
        verb="fix",
        label=added.name,
        # `<prefix>fix` names a verb; any other suffix is a route's label or an agent's name
        # (resolved against the config by the worker).
        agent=None if suffix == "fix" else suffix,
    )
    return Enqueue(trigger=trigger, dedupe_key=f"label:{trigger.lock}:{added.name}")
