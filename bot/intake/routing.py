"""A tiny declarative router from `(event, action)` to pure intake handlers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from bot.events import Envelope, Payload, Repository, ValidationError, where_invalid
from bot.trigger import Trigger


@dataclass(frozen=True, slots=True)
class IntakeContext:
    """What intake may know without I/O: the delivery and the server's trigger words."""

    delivery_id: str
    label_prefix: str
    command: str
    bot_login: str
    allow_bots: tuple[str, ...] = ()


def where_from(ctx: IntakeContext, repository: Repository, installation_id: int) -> dict[str, Any]:
    """The trigger fields every event gives the same way: delivery, installation, repository."""
    return {
        "delivery_id": ctx.delivery_id,
        "installation_id": installation_id,
        "repo": repository.full_name,
        "owner": repository.owner.login,
        "name": repository.name,
        "clone_url": repository.clone_url,
        "default_branch": repository.default_branch,
    }


@dataclass(frozen=True, slots=True)
class Ignore:
    reason: str


@dataclass(frozen=True, slots=True)
class Enqueue:
    trigger: Trigger
    # Coalesces the same request while it is still queued (a label removed and re-added twice).
    dedupe_key: str
    task: str = "run"
    # Runs on one issue or PR never overlap; control commands (cancel, status) take no lock so
    # they are answered while a run holds it.
    serialize: bool = True

    @property
    def lock(self) -> str | None:
        return self.trigger.lock if self.serialize else None

    @property
    def repo(self) -> str:
        return self.trigger.repo

    def job_args(self) -> dict[str, Any]:
        return self.trigger.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class Record:
    """A fact to record off the request path (no agent runs): a `task` job with `args`."""

    task: str
    args: Mapping[str, Any]
    lock: str | None = None
    dedupe_key: str | None = None

    @property
    def repo(self) -> str:
        """The repository the fact is about (owner/name), for log lines."""
        return str(self.args.get("repo", "-"))

    def job_args(self) -> dict[str, Any]:
        return dict(self.args)


Decision = Ignore | Enqueue | Record
Handler = Callable[[Payload, IntakeContext], Decision]
# The trigger word a handler cannot act without (e.g. the label prefix): a delivery whose raw
# bytes do not contain it is acknowledged without being parsed at all.
Needle = Callable[[IntakeContext], str]


@dataclass
class Router:
    """Handlers registered per `(event, action)`; `action=None` matches every action."""

    _routes: dict[tuple[str, str | None], list[Handler]] = field(default_factory=dict)
    _needles: dict[Handler, Needle] = field(default_factory=dict)
    _heads: dict[Handler, type[Envelope]] = field(default_factory=dict)
    _events: set[str] = field(default_factory=set)

    def register(
        self,
        event: str,
        action: str | None = None,
        *,
        needs: Needle | None = None,
        head: type[Envelope] | None = None,
    ) -> Callable[[Handler], Handler]:
        """`head`: the envelope plus the fields the handler decides on first, read in one pass
        (most deliveries are settled by those alone)."""

        def deco(fn: Handler) -> Handler:
            self._routes.setdefault((event, action), []).append(fn)
            self._events.add(event)
            if needs is not None:
                self._needles[fn] = needs
            if head is not None:
                self._heads[fn] = head
            return fn

        return deco

    def include(self, other: Router) -> None:
        for key, handlers in other._routes.items():
            self._routes.setdefault(key, []).extend(handlers)
        self._needles.update(other._needles)
        self._heads.update(other._heads)
        self._events.update(other._events)

    def head(self, event: str, action: str | None) -> type[Envelope]:
        """What to read a delivery as first: its handler's head, or the bare envelope when
        several handlers (or none) would read it."""
        heads = {self._heads.get(h, Envelope) for h in self.fetch(event, action)}
        return heads.pop() if len(heads) == 1 else Envelope

    def fetch(self, event: str, action: str | None) -> list[Handler]:
        """The handlers for an event, so routing is testable without running them."""
        return [*self._routes.get((event, action), []), *self._routes.get((event, None), [])]

    def events(self) -> frozenset[str]:
        return frozenset(self._events)

    def skip_unread(
        self, event: str, action: str | None, body: bytes, ctx: IntakeContext
    ) -> str | None:
        """Why this delivery needs no parsing (no handler, or no trigger word in it), or None.

        `action` is None when it could not be read cheaply: then nothing is skipped by action.
        """
        if event not in self._events:
            return f"no handler for {event}"
        if action is None:
            return None
        handlers = self.fetch(event, action)
        if not handlers:
            return f"no handler for {event}.{action}"
        for handler in handlers:
            needle = self._needles.get(handler)
            if needle is None or needle(ctx).encode() in body:
                return None
        return "no trigger word in the delivery"


def decide(
    router: Router, event: str, payload: Payload | Mapping[str, Any], ctx: IntakeContext
) -> list[Decision]:
    """Run every handler for the event; a payload a handler cannot read is ignored, with why.

    A mapping is read as the parsed payload; intake hands in the body's bytes as a Payload,
    whose envelope it has read already (a body that is not a JSON object is refused before).
    """
    if not isinstance(payload, Payload):
        payload = Payload(payload)
    envelope = payload.envelope()
    action = envelope.action
    handlers = router.fetch(event, action if isinstance(action, str) else None)
    if not handlers:
        return [Ignore(f"no handler for {event}.{action}")]
    if not isinstance(envelope.installation, dict):
        return [Ignore("no installation in the payload")]
    decisions: list[Decision] = []
    for handler in handlers:
        try:
            decisions.append(handler(payload, ctx))
        except ValidationError as exc:
            where, msg = where_invalid(exc)
            decisions.append(Ignore(f"payload not understood at {where}: {msg}"))
        except pydantic.ValidationError as exc:
            # The trigger a handler builds from what it read (its own model) did not validate.
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            decisions.append(Ignore(f"payload not understood at {where}: {first['msg']}"))
    return decisions
