"""The checks made on GitHub: reachable, the key is the app's, installed, the webhook, the
org's settings repository. A line that needs an earlier one to pass is skipped when it failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.configsource import ORG_FILE
from bot.doctor.result import Check, failed, note, passed, skipped
from bot.gh import appinfo
from bot.gh.errors import GitHubError
from bot.redelivery import never_delivered
from config.loader import ConfigError, load_org_file

if TYPE_CHECKING:
    from bot.gh.app import GitHubApp
    from bot.gh.deliveries import HookDelivery
    from config.settings import Settings
    from config.yamlpos import Located

REACH = "GitHub"
IDENTITY = "app identity"
INSTALLATIONS = "installations"
WEBHOOK = "webhook"
DELIVERIES = "deliveries"
SETTINGS_REPO = "settings repository"


@dataclass(frozen=True, slots=True)
class Findings:
    checks: list[Check]
    org_files: list[Located] = field(default_factory=list)


def _skip_rest(checks: list[Check], because: str) -> Findings:
    names = (IDENTITY, INSTALLATIONS, WEBHOOK, DELIVERIES, SETTINGS_REPO)
    return Findings([*checks, *(skipped(n, because) for n in names[len(checks) - 1 :])])


def webhook_check(hook: appinfo.HookConfig, public_url: str) -> Check:
    """GitHub must post JSON to this server's `/webhooks`."""
    if not public_url:
        return failed(
            WEBHOOK,
            f"the App posts to {hook.url or '(no URL)'}; this server's public URL is not known",
            "pass --public-url https://HOST (or set BATON_PUBLIC_URL) to compare it",
        )
    wanted = public_url.rstrip("/") + "/webhooks"
    if hook.url != wanted:
        return failed(
            WEBHOOK,
            f"the App posts to {hook.url or '(no URL)'}, not {wanted}",
            f"set the Webhook URL in the App's settings (General > Webhook) to {wanted}",
        )
    if hook.content_type != "json":
        return failed(
            WEBHOOK,
            f"the App sends {hook.content_type}, not JSON",
            "set Content type to application/json in the App's webhook settings",
        )
    return passed(WEBHOOK, f"JSON to {wanted}")


def deliveries_check(recent: list[HookDelivery]) -> Check:
    """A failed delivery counts until a later (re)delivery of the same id succeeded."""
    failures = never_delivered(recent)
    if not failures:
        return passed(DELIVERIES, f"none of the last {len(recent)} failed")
    latest = failures[0]
    return failed(
        DELIVERIES,
        f"{len(failures)} of the last {len(recent)} never reached Baton (latest: {latest.what}, "
        f"{latest.status})",
        "make sure `baton serve` is up and reachable at the webhook URL: it asks GitHub to "
        "redeliver them when it starts (`baton deliveries --failed` lists them, `baton "
        "deliveries redeliver ID` asks for one)",
    )


async def _settings_repos(
    app: GitHubApp, installs: list[appinfo.InstallationInfo], repo: str
) -> Findings:
    checks: list[Check] = []
    files: list[Located] = []
    for inst in installs:
        label = f"{inst.account}/{repo}:{ORG_FILE}"
        name = f"{SETTINGS_REPO} {inst.account}/{repo}"
        try:
            text = await app.read_settings_file(inst.id, inst.account, repo, ORG_FILE)
        except GitHubError as exc:
            checks.append(failed(name, str(exc), "try again once GitHub answers"))
            continue
        if text is None:
            # Most orgs have no settings repository: each repository's own .agents.yml (or the
            # built-in config) is then the whole config, and Baton runs as it should.
            checks.append(
                note(
                    name,
                    f"none ({label} not found, or the App is not installed on it): each "
                    f"repository's own .agents.yml applies; for org-wide agents and budgets "
                    f"create {inst.account}/{repo} with an {ORG_FILE} and install the App on it",
                )
            )
            continue
        try:
            files.append(load_org_file(text, file=label))
        except ConfigError as exc:
            advice = "fix these lines; `baton config check --org FILE` shows them"
            checks.append(failed(name, "; ".join(str(i) for i in exc.issues), advice))
            continue
        checks.append(passed(name, f"{label} is valid"))
    return Findings(checks, files)


async def github_checks(
    app: GitHubApp, settings: Settings, *, public_url: str, credentials_ok: bool
) -> Findings:
    try:
        await appinfo.rate_limit_answered(app)
    except GitHubError as exc:
        advice = (
            "check BATON_GITHUB_URL (GitHub Enterprise Server: https://HOST/api/v3/) and that "
            "this machine reaches it (proxy, firewall, DNS)"
        )
        return _skip_rest([failed(REACH, str(exc), advice)], "GitHub is not reachable")
    checks = [passed(REACH, f"answers at {settings.github_url}")]
    if not credentials_ok:
        return _skip_rest(checks, "the app id or the private key above is not usable")
    try:
        me = await appinfo.identity(app)
    except GitHubError as exc:
        advice = (
            "BATON_APP_ID and the private key must be the same App's: check the App ID on its "
            "settings page and generate a new private key there"
        )
        return _skip_rest([*checks, failed(IDENTITY, str(exc), advice)], "GitHub refused the key")
    if me.slug != settings.app_slug:
        checks.append(
            failed(
                IDENTITY,
                f"the key is app {me.id}'s, whose slug is {me.slug}, not {settings.app_slug}",
                f"set BATON_APP_SLUG={me.slug} (Baton ignores its own comments by it)",
            )
        )
    else:
        checks.append(passed(IDENTITY, f"the key is app {me.id}'s ({me.slug})"))
    try:
        installs = await appinfo.installations(app)
    except GitHubError as exc:
        installs = []
        checks.append(failed(INSTALLATIONS, str(exc), "try again once GitHub answers"))
    else:
        checks.append(_installations_check(installs, me.slug))
    try:
        checks.append(webhook_check(await appinfo.hook_config(app), public_url))
        checks.append(deliveries_check(await appinfo.recent_deliveries(app)))
    except GitHubError as exc:
        checks.append(failed(WEBHOOK, str(exc), "try again once GitHub answers"))
    if not installs:
        checks.append(skipped(SETTINGS_REPO, "the App has no installation"))
        return Findings(checks)
    repos = await _settings_repos(app, installs, settings.settings_repo)
    return Findings([*checks, *repos.checks], repos.org_files)


def _installations_check(installs: list[appinfo.InstallationInfo], slug: str) -> Check:
    if not installs:
        return failed(
            INSTALLATIONS,
            "the App is not installed anywhere",
            f"install it from the App's page (/apps/{slug}/installations/new on GitHub)",
        )
    listed = ", ".join(
        f"{i.account} ({i.repositories} repositor{'y' if i.repositories == 1 else 'ies'})"
        for i in installs
    )
    return passed(INSTALLATIONS, listed)
