"""A person signing in to the dashboard: the App's user authorization (the OAuth web flow), then
who they are and which repositories the App's installations give them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from githubkit import GitHub, OAuthWebAuthStrategy
from githubkit.exception import AuthExpiredError, GitHubException

from bot.gh.calls import PER_PAGE, paged, read_json
from bot.gh.errors import GitHubError, translate

if TYPE_CHECKING:
    from pydantic import SecretStr

_DOTCOM_API = ("https://api.github.com", "https://api.github.com/")


def web_url(api_url: str) -> str:
    """Where GitHub's web pages are for an API base: github.com for api.github.com; the host
    itself for GitHub Enterprise Server (`https://HOST/api/v3`), as githubkit reckons too."""
    if api_url in _DOTCOM_API:
        return "https://github.com"
    url = httpx.URL(api_url)
    return str(url.copy_with(path="/", query=None)).rstrip("/")


def authorize_url(api_url: str, *, client_id: str, redirect_uri: str, state: str) -> str:
    """The page where a person authorizes the App to know who they are."""
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{web_url(api_url)}/login/oauth/authorize?{query}"


@dataclass(frozen=True, slots=True)
class UserAccess:
    """Who signed in and every repository (owner/name) the App's installations let them see."""

    login: str
    repos: frozenset[str]


async def user_access(
    api_url: str,
    *,
    client_id: str,
    client_secret: SecretStr,
    code: str,
    redirect_uri: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> UserAccess:
    """Exchange the callback's code for a user-to-server token, then read the user and, through
    each installation they can reach, their repositories. The token is used here and dropped."""
    common: dict[str, Any] = {"base_url": api_url, "async_transport": transport, "timeout": 20}
    # The first request exchanges the code (githubkit's web-flow strategy), the rest reuse the
    # token; exchanging it separately first would spend the one-time code twice.
    gh = GitHub(
        OAuthWebAuthStrategy(client_id, client_secret.get_secret_value(), code, redirect_uri),
        **common,
    )
    async with gh:
        try:
            me = await gh.rest.users.async_get_authenticated()
        except AuthExpiredError as exc:
            raise GitHubError("GitHub refused the sign-in code (expired or used)") from exc
        except GitHubException as exc:
            raise translate(exc, "exchange the sign-in code") from exc
        user = read_json(me)
        installations = await paged(
            "list the user's installations",
            lambda p: gh.rest.apps.async_list_installations_for_authenticated_user(
                per_page=PER_PAGE, page=p
            ),
            lambda body: list(body.get("installations", [])),
        )
        repos: set[str] = set()
        for inst in installations:

            def fetch(page: int, installation: int = int(inst["id"])) -> Any:
                return gh.rest.apps.async_list_installation_repos_for_authenticated_user(
                    installation, per_page=PER_PAGE, page=page
                )

            listed = await paged(
                "list an installation's repositories",
                fetch,
                lambda body: list(body.get("repositories", [])),
            )
            repos.update(str(r["full_name"]) for r in listed)
    return UserAccess(login=str(user["login"]), repos=frozenset(repos))
