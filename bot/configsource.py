"""Load a repository's effective config: `.agents.yml` on the default branch plus the org's
`agents.yml` in its settings repo, both read through the ETag-cached contents API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.registry import KNOWN_ADAPTERS
from config.defaults import DEFAULT_LABEL_PREFIX
from config.loader import ConfigError, load_org_file, load_repo_file
from config.merge import Effective, effective_config

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.github import GitHubApp, RepoGitHub
    from bot.trigger import Trigger
    from config.guard import Operator

REPO_FILE = ".agents.yml"
ORG_FILE = "agents.yml"

__all__ = ["ORG_FILE", "REPO_FILE", "ConfigError", "Effective", "load_effective"]


async def load_effective(
    *,
    app: GitHubApp,
    gh: RepoGitHub,
    trigger: Trigger,
    settings_repo: str,
    flags: Mapping[str, object] | None = None,
    label_prefix: str = DEFAULT_LABEL_PREFIX,
    operator: Operator | None = None,
) -> Effective:
    """The merged config, or ConfigError with every `file:line:col` problem.

    Read from the default branch only (never a PR head): a PR cannot change its own rules.
    `label_prefix` is the server's `BATON_LABEL_PREFIX`: the built-in route's label follows it.
    """
    repo_text = await gh.read_file(REPO_FILE, ref=trigger.default_branch)
    org_text = None
    if trigger.name != settings_repo:
        org_text = await app.read_settings_file(
            trigger.installation_id, trigger.owner, settings_repo, ORG_FILE
        )
    org_label = f"{trigger.owner}/{settings_repo}:{ORG_FILE}"
    repo = load_repo_file(repo_text, file=REPO_FILE) if repo_text is not None else None
    org = load_org_file(org_text, file=org_label) if org_text is not None else None
    return effective_config(
        repo=repo,
        org=org,
        repo_name=trigger.name,
        known_adapters=KNOWN_ADAPTERS,
        flags=flags,
        label_prefix=label_prefix,
        operator=operator,
    )
