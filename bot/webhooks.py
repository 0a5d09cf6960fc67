"""`POST /webhooks`: cap, verify (fail closed), parse, route, dedupe+enqueue in one go, 202."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.responses import Response

from bot.events import NotAnObject, Payload, Ping
from bot.intake import Enqueue, Ignore, IntakeContext, Record, Router, decide
from bot.logs import bound
from bot.queue import JobStatus, NewJob
from bot.store.errors import StoreError

if TYPE_CHECKING:
    from starlette.requests import Request

    from bot.queue import JobQueue
    from config.settings import Settings

log = logging.getLogger(__name__)

# GitHub caps payloads at 25 MB and does not deliver larger events.
MAX_BODY_BYTES = 25 * 1024 * 1024


# GitHub writes `action` first; when it is not there, the payload is parsed as usual.
_ACTION = re.compile(rb'\s*\{\s*"action"\s*:\s*"([a-z_]{1,64})"')
_IGNORED = b'{"ignored":"nothing to do"}'


class _TooLarge(Exception):
    pass


def signature_ok(secret: bytes | tuple[bytes, ...], body: bytes, header: str | None) -> bool:
    """Constant-time check of `X-Hub-Signature-256` against the secret, or against each of
    several while a rotation has the new and the old; anything but a valid sha256 fails."""
    secrets = (secret,) if isinstance(secret, bytes) else secret
    if not header or not header.startswith("sha256="):
        return False
    matched = False
    for one in secrets:
        if not one:
            continue
        expected = "sha256=" + hmac.new(one, body, hashlib.sha256).hexdigest()
        # Every secret is tried, so the time taken says nothing about which one matched.
        matched |= hmac.compare_digest(expected.encode(), header.encode())
    return matched


def _headers(request: Request) -> dict[bytes, bytes]:
    """The request's headers by (lowercase) name, the first of a repeated one winning as with
    Starlette's `request.headers`, built in one pass instead of one scan per lookup."""
    raw: list[tuple[bytes, bytes]] = request.scope["headers"]
    return dict(reversed(raw))


def _text(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


async def _read_capped(request: Request, declared: str | None, limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _json(content: Any, status: int = 202) -> Response:
    # What JSONResponse sends (compact UTF-8), encoded by msgspec: this is every answer's path.
    return Response(msgspec.json.encode(content), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


class WebhookEndpoint:
    """The intake endpoint; holds only what it needs, handed in by the app factory."""

    def __init__(
        self,
        *,
        settings: Settings,
        router: Router,
        queue: JobQueue,
        max_body: int = MAX_BODY_BYTES,
        max_attempts: int = 4,
    ) -> None:
        self._max_attempts = max_attempts
        self._secret = settings.webhook_secrets
        self._router = router
        self._queue = queue
        self._max_body = max_body
        self._ctx = IntakeContext(
            delivery_id="",
            label_prefix=settings.label_prefix,
            command=settings.command,
            bot_login=settings.bot_login,
            allow_bots=settings.allow_bots,
        )

    async def handle(self, request: Request) -> Response:
        headers = _headers(request)
        try:
            body = await _read_capped(request, _text(headers, b"content-length"), self._max_body)
        except _TooLarge:
            return _error(413, "payload larger than 25 MB")
        if not signature_ok(self._secret, body, _text(headers, b"x-hub-signature-256")):
            return _error(401, "missing or invalid X-Hub-Signature-256")
        event = _text(headers, b"x-github-event")
        delivery = _text(headers, b"x-github-delivery")
        if not event or not delivery:
            return _error(400, "missing X-GitHub-Event or X-GitHub-Delivery")
        ctype = (_text(headers, b"content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _error(415, "set the webhook content type to application/json")
        match = _ACTION.match(body, 0, 256)
        action = match.group(1).decode() if match else None
        # Most deliveries start nothing: answer them without deserializing the payload.
        if event != "ping" and self._router.skip_unread(event, action, body, self._ctx):
            return Response(_IGNORED, status_code=202, media_type="application/json")
        # The rest is read only as far as its handlers ask (see bot/events.py), the first of
        # their fields in the same pass as the envelope.
        payload = Payload(body)
        try:
            payload.envelope(self._router.head(event, action))
        except NotAnObject as exc:
            return _error(400, str(exc))
        return await self._handle(event, delivery, payload)

    async def _ack_if_waiting(self, decision: Enqueue, job_id: int) -> None:
        """A run that must wait for another on the same issue is acknowledged by a lock-free job
        at once, so the person who asked is not left wondering whether Baton heard."""
        lock = decision.lock
        assert lock is not None
        holder = await self._queue.running_job_id(lock)
        ahead = [j for j in await self._queue.list_jobs(status=JobStatus.QUEUED, lock=lock)
                 if j.id < job_id]  # fmt: skip
        if (holder is None or holder == job_id) and not ahead:
            return
        args = {"trigger": decision.trigger.model_dump(mode="json"), "run_job": job_id}
        await self._queue.submit(NewJob(task="ack", args=args, max_attempts=1))

    async def _handle(self, event: str, delivery: str, payload: Payload) -> Response:
        if event == "ping":
            return _json({"pong": True, "zen": payload.read(Ping).zen}, 200)
        ctx = IntakeContext(
            delivery_id=delivery,
            label_prefix=self._ctx.label_prefix,
            command=self._ctx.command,
            bot_login=self._ctx.bot_login,
            allow_bots=self._ctx.allow_bots,
        )
        decisions = decide(self._router, event, payload, ctx)
        action = payload.envelope().action
        jobs = [d for d in decisions if isinstance(d, Enqueue | Record)]
        if not jobs:
            reasons = "; ".join(d.reason for d in decisions if isinstance(d, Ignore))
            # Most deliveries start nothing; at INFO this line alone costs a tenth of the intake.
            if log.isEnabledFor(logging.DEBUG):
                with bound(delivery=delivery):
                    log.debug("ignored %s.%s: %s", event, action, reasons)
            return _json({"ignored": reasons})
        # Deciding logs nothing (its handlers are pure): the delivery id is bound from here on.
        with bound(delivery=delivery, repo=jobs[0].repo):
            return await self._enqueue(event, action, delivery, jobs)

    async def _enqueue(
        self, event: str, action: object, delivery: str, jobs: list[Enqueue | Record]
    ) -> Response:
        queued: list[int] = []
        for index, decision in enumerate(jobs):
            job = NewJob(
                task=decision.task,
                args=decision.job_args(),
                lock=decision.lock,
                dedupe_key=decision.dedupe_key,
                max_attempts=self._max_attempts,
            )
            try:
                # The delivery id is recorded with the first job, in the same transaction.
                submitted = await self._queue.submit(
                    job, delivery_id=delivery if index == 0 else None
                )
            except StoreError as exc:
                if queued:
                    raise  # a second job of one delivery: never seen, nothing to report
                # Nothing was stored: GitHub keeps the delivery, to be redelivered once the
                # database is back (a 2xx would lose it).
                log.warning("%s.%s not stored: %s", event, action, exc)
                return _error(503, "the database is unavailable; redeliver this later")
            if submitted.duplicate_delivery:
                log.info("duplicate delivery: nothing queued")
                return _json({"duplicate": True})
            if submitted.job_id is not None:
                queued.append(submitted.job_id)
                # Only an agent run can wait behind another; a recorded fact just waits its turn.
                if isinstance(decision, Enqueue) and decision.lock and not submitted.coalesced:
                    await self._acknowledge_waiting(decision, submitted.job_id)
            log.info(
                "%s.%s -> job %s%s",
                event,
                action,
                submitted.job_id,
                " (coalesced)" if submitted.coalesced else "",
            )
        return _json({"queued": queued})

    async def _acknowledge_waiting(self, decision: Enqueue, job_id: int) -> None:
        if decision.lock is None:
            return
        try:
            await self._ack_if_waiting(decision, job_id)
        except StoreError as exc:
            # The run is stored: it acknowledges itself when it starts.
            log.warning("job %d stored; its early acknowledgement was not: %s", job_id, exc)
