"""A browser's part in form-based flows, for tests: read a page's forms and submit one."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    # Inputs the person fills in (not hidden), by name; <select> options listed.
    inputs: list[str] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(attr.get("action", ""), attr.get("method", "get").lower()))
        elif tag == "input" and self.forms and attr.get("name"):
            form = self.forms[-1]
            if attr.get("type") == "hidden":
                form.fields[attr["name"]] = attr.get("value", "")
            else:
                form.inputs.append(attr["name"])
        elif tag == "select" and self.forms and attr.get("name"):
            self._select = attr["name"]
            self.forms[-1].options[self._select] = []
        elif tag == "option" and self._select is not None:
            self.forms[-1].options[self._select].append(attr.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms(page: httpx.Response) -> list[Form]:
    parser = _Forms()
    parser.feed(page.text)
    for form in parser.forms:
        form.action = urljoin(str(page.url), form.action or str(page.url))
    return parser.forms


async def submit(client: httpx.AsyncClient, page: httpx.Response, **filled: str) -> httpx.Response:
    """Submit the page's only form with its hidden fields and `filled`, as a browser would (the
    redirect is not followed: the test sees where it points)."""
    (form,) = forms(page)
    assert form.method == "post", form
    return await client.post(form.action, data={**form.fields, **filled})
