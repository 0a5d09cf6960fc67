"""The config check: a pull request that changes `.agents.yml` gets a check run named
"Baton config" saying whether the file is valid, each error annotated at its line, so a broken
config is caught on the PR that breaks it rather than on the next run."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.configsource import REPO_FILE, ConfigError, load_effective
from bot.github import GitHubError, GitHubUnavailable
from bot.queue import JobContext, RetryLater
from bot.trigger import Trigger
from config.render import render_effective

if TYPE_CHECKING:
    from bot.lifecycle import Services
    from config.loader import ConfigIssue
    from config.merge import Effective

log = logging.getLogger(__name__)
CHECK_NAME = "Baton config"


def _annotation(issue: ConfigIssue, level: str) -> dict[str, object]:
    return {
        "path": REPO_FILE, "start_line": issue.line, "end_line": issue.line,
        "start_column": max(issue.col, 1), "end_column": max(issue.col, 1),
        "annotation_level": level, "message": issue.message,
    }  # fmt: skip


def check_output(
    result: Effective | ConfigError,
) -> tuple[str, str, str, list[dict[str, object]]]:
    """(conclusion, title, summary, annotations) of the check run; no I/O."""
    if isinstance(result, ConfigError):
        lines = "\n".join(str(issue) for issue in result.issues)
        notes = [_annotation(i, "failure") for i in result.issues
                 if i.file == REPO_FILE and i.line > 0]  # fmt: skip
        summary = (
            f"`{REPO_FILE}` in this pull request is invalid; merged as it is, no agent would "
            f"run on this repository until it is fixed:\n\n```\n{lines}\n```\n\n"
            "`baton config check` shows the same errors locally."
        )
        count = len(result.issues)
        return "failure", f"{count} error{'s' if count != 1 else ''} in {REPO_FILE}", summary, notes
    notes = [_annotation(w, "warning") for w in result.warnings
             if w.file == REPO_FILE and w.line > 0]  # fmt: skip
    warned = "\n".join(f"- {w}" for w in result.warnings)
    summary = (
        (f"Warnings (the org's locked values apply instead):\n{warned}\n\n" if warned else "")
        + "The effective configuration once merged, with each key's source:\n\n"
        + f"```yaml\n{render_effective(result)}\n```"
    )
    return "success", f"{REPO_FILE} is valid", summary, notes


async def config_check_job(services: Services, ctx: JobContext) -> None:
    """The queue's `config_check` task for one PR head."""
    trigger = Trigger.model_validate(ctx.args)
    head = trigger.head_sha
    assert head is not None
    try:
        async with await services.github.repo(
            trigger.installation_id, trigger.owner, trigger.name
        ) as gh:
            changed = {name for name, status in await gh.pull_files(trigger.number)
                       if status != "removed"}  # fmt: skip
            if REPO_FILE not in changed:
                return
            result: Effective | ConfigError
            try:
                result = await load_effective(
                    app=services.github, gh=gh, trigger=trigger,
                    settings_repo=services.settings.settings_repo, ref=head,
                )  # fmt: skip
            except ConfigError as exc:
                result = exc
            conclusion, title, summary, notes = check_output(result)
            await gh.create_check_run(
                head_sha=head, name=CHECK_NAME, conclusion=conclusion, title=title,
                summary=summary, external_id=f"config:{head}", annotations=notes,
            )  # fmt: skip
    except GitHubUnavailable as exc:
        if not ctx.final_attempt:
            raise RetryLater(str(exc)) from exc
        log.warning("gave up checking %s on %s#%d: %s", REPO_FILE, trigger.repo,
                    trigger.number, exc)  # fmt: skip
    except GitHubError as exc:
        log.warning("could not check %s on %s#%d: %s", REPO_FILE, trigger.repo,
                    trigger.number, exc)  # fmt: skip
