"""Small tolerant models of the webhook payloads Baton routes on, and the one way to read them.

githubkit's strict models reject a third of GitHub's own example payloads; these ignore what they
do not need, so a new or missing optional field never turns a delivery into an error. They are
msgspec Structs decoded straight from the body's bytes: a decoder skips every field a model does
not name without building it, which is most of a payload (an issue event is 10-25 KB of JSON
Baton reads a dozen fields of).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, TypeVar, cast

import msgspec


# `gc=False`: decoded JSON holds no reference cycles, so the collector need not track these.
# Each model repeats `frozen=True` (msgspec inherits it, mypy does not).
class _Tolerant(msgspec.Struct, frozen=True, gc=False):
    pass


class User(_Tolerant, frozen=True):
    login: str
    id: int = 0
    type: str = "User"

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot" or self.login.endswith("[bot]")


class Label(_Tolerant, frozen=True):
    name: str


class Owner(_Tolerant, frozen=True):
    login: str
    type: str = "User"


class Repository(_Tolerant, frozen=True):
    full_name: str
    name: str
    owner: Owner
    clone_url: str
    html_url: str = ""
    default_branch: str = "main"
    private: bool = False


class Installation(_Tolerant, frozen=True):
    id: int


class Issue(_Tolerant, frozen=True):
    number: int
    user: User
    title: str = ""
    body: str | None = None
    state: str = "open"
    labels: list[Label] = msgspec.field(default_factory=list)
    html_url: str = ""
    # Present (a mapping) only when the issue is a pull request.
    pull_request: dict[str, Any] | None = None

    @property
    def is_pull_request(self) -> bool:
        return bool(self.pull_request)


class Comment(_Tolerant, frozen=True):
    id: int
    user: User
    body: str = ""
    html_url: str = ""
    performed_via_github_app: dict[str, Any] | None = None


class Envelope(_Tolerant, frozen=True, kw_only=True):
    """What routing reads of every payload; `Any` so that a wrong type is judged by the router
    (an installation that is not an object is "no installation"), not by the decoder."""

    action: Any = None
    installation: Any = None


class Ping(_Tolerant, frozen=True):
    zen: Any = ""


# Keyword-only, so that each event's own required fields may follow these optional ones.
class _RepoEvent(_Tolerant, frozen=True, kw_only=True):
    repository: Repository
    sender: User
    action: str = ""
    installation: Installation | None = None


class IssuesEvent(_RepoEvent, frozen=True):
    issue: Issue
    label: Label | None = None


class AddedLabel(Envelope, frozen=True):
    """The envelope and the label of an `issues.labeled` event: enough to see that most start
    nothing."""

    label: Label | None = None


class IssueCommentEvent(_RepoEvent, frozen=True):
    issue: Issue
    comment: Comment


class CommentBody(_Tolerant, frozen=True):
    body: str = ""


class CommentHead(Envelope, frozen=True):
    """The envelope and a comment's text: enough to see that most comments hold no command."""

    comment: CommentBody


class PullRequestRef(_Tolerant, frozen=True):
    number: int
    user: User
    title: str = ""
    body: str | None = None
    state: str = "open"
    html_url: str = ""


class ReviewCommentEvent(_RepoEvent, frozen=True):
    pull_request: PullRequestRef
    comment: Comment


class Account(_Tolerant, frozen=True):
    login: str


class AppInstallation(_Tolerant, frozen=True):
    """An installation as its own lifecycle events give it: with the account it is on."""

    id: int
    account: Account | None = None


class RepoName(_Tolerant, frozen=True):
    full_name: str


class InstallationEvent(_Tolerant, frozen=True, kw_only=True):
    """`installation.*`: GitHub lists the repositories it could reach, or leaves them out."""

    installation: AppInstallation
    action: str = ""
    repositories: list[RepoName] | None = None


class InstallationRepositoriesEvent(_Tolerant, frozen=True, kw_only=True):
    installation: AppInstallation
    action: str = ""
    repositories_removed: list[RepoName] = msgspec.field(default_factory=list)


Model = TypeVar("Model", bound=_Tolerant)
ValidationError = msgspec.ValidationError


class NotAnObject(Exception):
    """The body is not JSON, or not a JSON object; the message says which, for the sender."""


@functools.cache
def _decoder(model: type[Model]) -> msgspec.json.Decoder[Model]:
    # Not strict: a number sent as a string is read as GitHub meant it, as pydantic's lax mode did.
    return msgspec.json.Decoder(model, strict=False)


class Payload:
    """A verified delivery's body, read into each model a handler asks for (once per model).

    Built from the raw bytes at intake, or from an already-parsed mapping (tests, replays).
    """

    def __init__(self, raw: bytes | Mapping[str, Any]) -> None:
        self._raw = raw
        self._read: dict[type[_Tolerant], _Tolerant] = {}

    def envelope(self, head: type[Envelope] = Envelope) -> Envelope:
        """The fields every route reads, read as `head` (an envelope with more fields) unless
        some envelope was read already; NotAnObject when the body is not a JSON object."""
        for found in self._read.values():
            if isinstance(found, Envelope):
                return found
        try:
            return self.read(head)
        except msgspec.ValidationError as exc:
            if head is not Envelope:
                # A field of the head is wrong: its handler says so when it reads it.
                return self.envelope()
            raise NotAnObject("body is not a JSON object") from exc
        except msgspec.DecodeError as exc:
            raise NotAnObject("body is not valid JSON") from exc

    def read(self, model: type[Model]) -> Model:
        """The payload as `model`; msgspec.ValidationError when a field it needs is wrong."""
        found = self._read.get(model)
        if found is None:
            if isinstance(self._raw, bytes):
                found = _decoder(model).decode(self._raw)
            else:
                found = msgspec.convert(self._raw, model, strict=False)
            self._read[model] = found
        return cast("Model", found)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")


def where_invalid(exc: msgspec.ValidationError) -> tuple[str, str]:
    """(dotted path, message) of a validation error: `issue.number`, "Field required"."""
    match = _AT.match(str(exc))
    msg, path = (match["msg"], match["path"] or "") if match else (str(exc), "")
    parts = [p for p in re.split(r"[.\[\]]+", path) if p]
    missing = _MISSING.match(msg)
    if missing is not None:
        parts.append(missing["field"])
        msg = "Field required"
    return ".".join(parts) or "(the payload)", msg
