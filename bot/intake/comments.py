"""Comment commands: `/agent ...` in issue or PR conversations and in PR review threads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands import RUN_VERBS, Command, find_command_line, parse
from bot.events import CommentHead, IssueCommentEvent, Payload, Repository, ReviewCommentEvent, User
from bot.intake.routing import Decision, Enqueue, Ignore, IntakeContext, Router, where_from
from bot.render import issue_of_pr_body
from bot.trigger import Trigger

router = Router()


def _app_slug(performed_via: Mapping[str, Any] | None) -> str | None:
    """The slug of the app a comment was made through (None for a person's own comment)."""
    return str(performed_via.get("slug") or "") if performed_via is not None else None


def _has_command(payload: Payload, ctx: IntakeContext) -> bool:
    """Whether the comment's text holds a command line: most comments do not, and need no more
    of the payload read."""
    return find_command_line(payload.read(CommentHead).comment.body, ctx.command) is not None


def _decide(
    *,
    ctx: IntakeContext,
    repository: Repository,
    sender: User,
    author: User,
    installation_id: int,
    number: int,
    is_pull_request: bool,
    title: str,
    body: str,
    html_url: str,
    comment_id: int,
    comment_body: str,
    comment_kind: str,
    via_app: str | None,
) -> Decision:
    line = find_command_line(comment_body, ctx.command)
    if line is None:
        return Ignore("no command in the comment")
    if sender.login == ctx.bot_login or via_app == ctx.bot_login.removesuffix("[bot]"):
        # Never react to Baton's own comments (its help text quotes commands). Other apps'
        # bots are judged by the allow-list in the worker, like any sender.
        return Ignore("comment written by Baton")
    parsed = parse(line)
    # Parse errors and control verbs are answered at once; work verbs queue behind the issue's
    # running job. The worker parses again: intake only decides how to queue.
    verb = parsed.verb if isinstance(parsed, Command) else "help"
    agent = parsed.agent if isinstance(parsed, Command) else None
    trigger = Trigger(
        kind="command",
        **where_from(ctx, repository, installation_id),
        html_url=html_url,
        number=number,
        is_pull_request=is_pull_request,
        title=title,
        body=body,
        author=author.login,
        requester=sender.login,
        requester_is_bot=sender.is_bot,
        verb=verb,
        agent=agent,
        comment_id=comment_id,
        comment_kind="review" if comment_kind == "review" else "issue",
        command_text=line,
        for_issue=issue_of_pr_body(body) if is_pull_request else None,
    )
    work = isinstance(parsed, Command) and parsed.verb in RUN_VERBS
    return Enqueue(
        trigger=trigger,
        dedupe_key=f"comment:{repository.full_name}:{comment_kind}:{comment_id}",
        task="run" if work else "control",
        serialize=work,
    )


@router.register("issue_comment", "created", needs=lambda ctx: ctx.command, head=CommentHead)
def issue_comment(payload: Payload, ctx: IntakeContext) -> Decision:
    """`/agent ...` on an issue or a PR's conversation (edits and deletions are ignored)."""
    if not _has_command(payload, ctx):
        return Ignore("no command in the comment")
    event = payload.read(IssueCommentEvent)
    assert event.installation is not None
    return _decide(
        ctx=ctx, repository=event.repository, sender=event.sender, author=event.issue.user,
        installation_id=event.installation.id, number=event.issue.number,
        is_pull_request=event.issue.is_pull_request, title=event.issue.title,
        body=event.issue.body or "", html_url=event.issue.html_url,
        comment_id=event.comment.id, comment_body=event.comment.body, comment_kind="issue",
        via_app=_app_slug(event.comment.performed_via_github_app),
    )  # fmt: skip


@router.register(
    "pull_request_review_comment", "created", needs=lambda ctx: ctx.command, head=CommentHead
)
def review_comment(payload: Payload, ctx: IntakeContext) -> Decision:
    """`/agent ...` inside a PR review thread."""
    if not _has_command(payload, ctx):
        return Ignore("no command in the comment")
    event = payload.read(ReviewCommentEvent)
    assert event.installation is not None
    pr = event.pull_request
    return _decide(
        ctx=ctx, repository=event.repository, sender=event.sender, author=pr.user,
        installation_id=event.installation.id, number=pr.number, is_pull_request=True,
        title=pr.title, body=pr.body or "", html_url=pr.html_url, comment_id=event.comment.id,
        comment_body=event.comment.body, comment_kind="review",
        via_app=_app_slug(event.comment.performed_via_github_app),
    )  # fmt: skip
