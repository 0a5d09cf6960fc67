"""The emulator's HTML: one page shape, everything interpolated escaped, no script allowed.

Pages show what agents wrote (issue comments, PR bodies, diffs): hostile text. Every value goes
through `esc`, and the Content-Security-Policy forbids scripts, frames and objects outright, so a
tag that slipped through would still not run.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.responses import HTMLResponse

if TYPE_CHECKING:
    from starlette.requests import Request

# No `form-action`: the new-app form posts here and is then redirected to the registrant's own
# page, which a form-action list would have to name in advance.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'"
MAX_FORM_BYTES = 1024 * 1024
_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1f2328}
header{background:#24292f;color:#fff;padding:10px 24px;font-weight:600}
header a{color:#fff;text-decoration:none}
main{max-width:980px;margin:24px auto;padding:0 24px}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
pre{background:#f6f8fa;padding:12px;overflow:auto;white-space:pre-wrap}
.box{border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:12px 0}
.meta{color:#59636e;font-size:13px}.add{color:#1a7f37}.del{color:#d1242f}
button{background:#1f883d;color:#fff;border:0;border-radius:6px;padding:6px 16px;font-size:15px}
"""


def esc(value: object) -> str:
    """`value` as HTML text (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    """A whole page; `body` is HTML the caller built with `esc` around every value."""
    text = (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{esc(title)} · localhub</title><style>{_STYLE}</style></head><body>"
        '<header><a href="/">localhub</a> · a local GitHub emulator</header>'
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(text, status_code=status, headers=headers)


def error_page(status: int, message: str) -> HTMLResponse:
    return page("Something is not right", f"<p>{esc(message)}</p>", status=status)


async def form(request: Request) -> dict[str, str]:
    """The fields of an `application/x-www-form-urlencoded` post (the last of a repeated one)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'
