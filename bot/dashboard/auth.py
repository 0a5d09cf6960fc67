"""Signing in and out: GitHub's user authorization of the App, or the operator's token; and
`viewer_of`, which every page and `/metrics` ask first."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.dashboard.pages import render
from bot.dashboard.session import (
    SESSION_TTL_S,
    SIGN_IN_STATE,
    SessionTooLarge,
    Viewer,
    sign,
    verify,
)
from bot.gh.errors import GitHubError
from bot.gh.user import authorize_url, user_access

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx
    from starlette.requests import Request

    from config.settings import Settings

log = logging.getLogger(__name__)
SESSION_COOKIE = "baton_session"
STATE_COOKIE = "baton_oauth"
STATE_TTL_S = 600.0
OPERATOR = "operator"


class Auth:
    """What signing in needs, handed in by the app factory: settings, the session key, and the
    transport to GitHub (tests reach the emulator in-process through it)."""

    def __init__(
        self,
        *,
        settings: Settings,
        key: Callable[[], bytes],
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._key = key
        self._transport = transport
        self._clock = clock

    @property
    def github_login(self) -> bool:
        s = self.settings
        return bool(s.client_id and s.client_secret and s.client_secret.get_secret_value())

    @property
    def token_login(self) -> bool:
        token = self.settings.dashboard_token
        return token is not None and bool(token.get_secret_value())

    def viewer_of(self, request: Request) -> Viewer | None:
        """The operator (its token as a bearer, for scrapers), the session's person, or None."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self._token_ok(value.strip()):
            return Viewer(login=OPERATOR, repos=None)
        payload = verify(self._key(), request.cookies.get(SESSION_COOKIE), now=self._clock())
        return Viewer.from_payload(payload) if payload is not None else None

    def _token_ok(self, given: str) -> bool:
        token = self.settings.dashboard_token
        if token is None or not token.get_secret_value() or not given:
            return False
        return hmac.compare_digest(token.get_secret_value().encode(), given.encode())

    def _secure(self, request: Request) -> bool:
        base = self.settings.public_url or str(request.base_url)
        return base.startswith("https://")

    def _signed_in(self, request: Request, viewer: Viewer, next_url: str) -> Response:
        response = RedirectResponse(_local(next_url), status_code=303)
        try:
            value = sign(self._key(), viewer.payload(), now=self._clock(), ttl_s=SESSION_TTL_S)
        except SessionTooLarge:
            return render(
                request,
                "login.html",
                status=400,
                auth=self,
                error="Your GitHub account reaches more repositories than a session cookie can "
                "hold; ask the operator for the dashboard token.",
            )
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=int(SESSION_TTL_S),
            httponly=True,
            samesite="lax",
            secure=self._secure(request),
            path="/",
        )
        response.delete_cookie(STATE_COOKIE, path="/")
        return response

    def _callback_url(self, request: Request) -> str:
        base = self.settings.public_url or str(request.base_url)
        return base.rstrip("/") + "/auth/callback"

    # -- routes --

    async def login_page(self, request: Request) -> Response:
        return render(request, "login.html", auth=self, next=request.query_params.get("next"))

    async def login_github(self, request: Request) -> Response:
        """Off to GitHub's authorize page; a random state, kept in a signed cookie, comes back."""
        if not self.github_login:
            return render(
                request,
                "login.html",
                status=404,
                auth=self,
                error="GitHub sign-in is not set up on this server.",
            )
        state = secrets.token_urlsafe(24)
        next_url = _local(request.query_params.get("next", "/runs"))
        url = authorize_url(
            self.settings.github_url,
            client_id=self.settings.client_id or "",
            redirect_uri=self._callback_url(request),
            state=state,
        )
        response = RedirectResponse(url, status_code=302)
        cookie = sign(
            self._key(),
            {"state": state, "next": next_url},
            now=self._clock(),
            ttl_s=STATE_TTL_S,
            purpose=SIGN_IN_STATE,
        )
        response.set_cookie(
            STATE_COOKIE,
            cookie,
            max_age=int(STATE_TTL_S),
            httponly=True,
            samesite="lax",
            secure=self._secure(request),
            path="/",
        )
        return response

    async def callback(self, request: Request) -> Response:
        held = verify(
            self._key(),
            request.cookies.get(STATE_COOKIE),
            now=self._clock(),
            purpose=SIGN_IN_STATE,
        )
        state = request.query_params.get("state", "")
        code = request.query_params.get("code", "")
        if held is None or not state or not hmac.compare_digest(str(held.get("state")), state):
            return render(
                request,
                "login.html",
                status=400,
                auth=self,
                error="That sign-in link is stale or was not started here: sign in again.",
            )
        secret = self.settings.client_secret
        if not code or secret is None:
            return render(
                request,
                "login.html",
                status=400,
                auth=self,
                error="GitHub sent no code back: sign in again.",
            )
        try:
            access = await user_access(
                self.settings.github_url,
                client_id=self.settings.client_id or "",
                client_secret=secret,
                code=code,
                redirect_uri=self._callback_url(request),
                transport=self._transport,
            )
        except GitHubError as exc:
            log.warning("dashboard sign-in failed: %s", exc)
            return render(
                request,
                "login.html",
                status=502,
                auth=self,
                error=f"GitHub did not complete the sign-in: {exc}",
            )
        log.info("%s signed in to the dashboard (%d repositories)", access.login, len(access.repos))
        viewer = Viewer(login=access.login, repos=access.repos)
        return self._signed_in(request, viewer, str(held.get("next") or "/runs"))

    async def login_token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if not self._token_ok(form.get("token", "")):
            return render(
                request,
                "login.html",
                status=401,
                auth=self,
                error="That is not this server's dashboard token.",
            )
        return self._signed_in(
            request, Viewer(login=OPERATOR, repos=None), form.get("next") or "/runs"
        )

    async def logout(self, request: Request) -> Response:
        del request
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login/github", self.login_github, methods=["GET"]),
            Route("/auth/callback", self.callback, methods=["GET"]),
            Route("/login/token", self.login_token, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
        ]


def _local(url: str) -> str:
    """Only a path on this server: a `next` pointing elsewhere is an open redirect."""
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/runs"
    return url
