"""The dashboard's templates (Jinja2, autoescaped) and the filters they format values with."""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.responses import HTMLResponse

if TYPE_CHECKING:
    from starlette.requests import Request


NONE = "\u2013"  # an en dash: no value


def money(value: float | None) -> str:
    """Costs as people read them everywhere in Baton: `$0.0134`; unknown is not zero."""
    return "unknown" if value is None else f"${value:.4f}"


def short_money(value: float | None) -> str:
    """Chart labels: two decimals from a dollar up, four below."""
    if value is None:
        return "unknown"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def when(epoch: float | None) -> str:
    if epoch is None:
        return NONE
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@functools.cache
def environment() -> jinja2.Environment:
    """Built on first use (nothing at import time); templates ship inside the package."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, short_money=short_money, duration=duration, when=when)
    return env


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page, with the viewer (if any) and the current path for the navigation."""
    context.setdefault("viewer", request.scope.get("baton.viewer"))
    context.setdefault("error", None)
    context.setdefault("github_web", request.app.state.github_web)
    html = environment().get_template(template).render(path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
