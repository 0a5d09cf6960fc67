"""The GitHub App manifest `baton register` posts, built from `app.yml`, and GitHub's addresses
(github.com, GitHub Enterprise Cloud with data residency, GitHub Enterprise Server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from config.settings import DEFAULT_GITHUB_URL, SettingsError

MANIFEST_FILE = "app.yml"
WEBHOOK_PATH = "/webhooks"
# Where GitHub sends a user back after logging in to the dashboard with the App (its OAuth
# callback); the dashboard serves it.
LOGIN_CALLBACK_PATH = "/auth/callback"


@dataclass(frozen=True, slots=True)
class GitHubUrls:
    web: str  # where people browse: https://github.com, https://ghe.example.com
    api: str  # the REST API base, as BATON_GITHUB_URL takes it (with a trailing slash)

    def new_app(self, org: str | None) -> str:
        """The page a manifest is posted to, for the user's own account or an organization."""
        if org:
            return f"{self.web}/organizations/{org}/settings/apps/new"
        return f"{self.web}/settings/apps/new"

    def install(self, slug: str) -> str:
        return f"{self.web}/apps/{slug}/installations/new"


def github_urls(url: str) -> GitHubUrls:
    """GitHub's web and API addresses from either of them: `https://github.com`,
    `https://api.github.com`, `https://ghe.example.com` or `https://ghe.example.com/api/v3`."""
    parts = urlsplit(url.strip().rstrip("/"))
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SettingsError(f"--github-url {url!r} is not an http(s) URL")
    origin = f"{parts.scheme}://{parts.netloc}"
    host = parts.hostname or ""
    if parts.path.endswith("/api/v3"):  # GitHub Enterprise Server's API, under its web host
        web = origin + parts.path.removesuffix("/api/v3")
        return GitHubUrls(web=web, api=f"{web}/api/v3/")
    if host.startswith("api."):  # api.github.com, api.SUBDOMAIN.ghe.com
        return GitHubUrls(web=f"{parts.scheme}://{parts.netloc[4:]}", api=f"{origin}/")
    if host == "github.com" or host.endswith(".ghe.com"):
        return GitHubUrls(web=origin, api=f"{parts.scheme}://api.{parts.netloc}/")
    web = origin + parts.path
    return GitHubUrls(web=web, api=f"{web}/api/v3/")


def shipped_manifest() -> Path:
    """The `app.yml` Baton comes with (a wheel carries it inside the package)."""
    packaged = Path(__file__).with_name(MANIFEST_FILE)
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / MANIFEST_FILE


def load_app_yml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SettingsError(f"{path} cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must be a mapping (a GitHub App manifest)")
    return data


def public_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"--public-url {url!r} is not an http(s) URL"
    if parts.query or parts.fragment:
        return f"--public-url {url!r} must not have a query or a fragment"
    return None


def build_manifest(
    app_yml: dict[str, Any], *, public_url: str, redirect_url: str, name: str | None
) -> dict[str, Any]:
    """The manifest: `app.yml`'s events, permissions and texts; the webhook at
    PUBLIC_URL/webhooks, the dashboard's login callback, the redirect back to `redirect_url`;
    private unless `app.yml` says `public: true`."""
    base = public_url.rstrip("/")
    hook = dict(app_yml.get("hook_attributes") or {})
    hook.update({"url": base + WEBHOOK_PATH, "active": True})
    return {
        **app_yml,
        "name": name or app_yml.get("name") or "baton",
        "url": app_yml.get("url") or base,
        "public": bool(app_yml.get("public", False)),
        "hook_attributes": hook,
        "redirect_url": redirect_url,
        "callback_urls": [base + LOGIN_CALLBACK_PATH],
    }


def default_api(urls: GitHubUrls) -> bool:
    return urls.api == DEFAULT_GITHUB_URL
