"""Traces over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: each run is one trace.

The web process records the intake of a delivery; the worker (often another process) records
the wait in the queue, the run, an `invoke_agent` span per agent with a `chat` span per turn and
an `execute_tool` span per tool call under it (OpenTelemetry's GenAI attributes, plus
`gen_ai.usage.cost` and `baton.cost.source`), and the git and GitHub steps. Both sides derive
the trace's id and the intake span's id from the delivery id, so they meet in one trace without
passing anything along. Without the variable nothing here is imported and nothing is exported.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from bot.store.base import RunRecord

ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_ENDPOINT"
# Ids the next span must take (the intake span, whose ids the worker derives too).
_forced: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "baton_forced_ids", default=None
)
# Events that end a git or GitHub step, and the span each becomes (it started at the event
# before it).
_STEPS = {
    "policy": "git stage and check",
    "pushed": "git push",
    "pr_opened": "github create pull request",
    "pr_updated": "github update pull request",
    "check_run": "github create check run",
}


def delivery_ids(delivery_id: str) -> tuple[int, int]:
    """The trace id and the intake span's id of a delivery: the same in every process."""
    digest = hashlib.sha256(f"baton:{delivery_id}".encode()).digest()
    return int.from_bytes(digest[:16], "big") or 1, int.from_bytes(digest[16:24], "big") or 1


@dataclass
class _RunSpans:
    agent: Any = None
    turn: Any = None
    tools: dict[str, Any] = field(default_factory=dict)
    last_ns: int = 0


class Tracing:
    """The tracer of one process. Made only when an endpoint is set (`tracing_from`)."""

    def __init__(self, endpoint: str, *, service: str = "baton") -> None:
        # Imported here: a Baton without an endpoint never loads the SDK.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator  # noqa: PLC0415

        class _Ids(RandomIdGenerator):
            def generate_trace_id(self) -> int:
                forced = _forced.get()
                return forced[0] if forced else super().generate_trace_id()

            def generate_span_id(self) -> int:
                forced = _forced.get()
                return forced[1] if forced else super().generate_span_id()

        url = endpoint.rstrip("/") + "/v1/traces"
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service}), id_generator=_Ids()
        )
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
        self._tracer = self._provider.get_tracer("baton")
        self._runs: dict[str, _RunSpans] = {}

    # -- the web process --

    def intake(self, *, delivery_id: str, event: str, start_ns: int, outcome: str) -> None:
        """The delivery's intake, from its first byte to the 202, as the trace's root."""
        token = _forced.set(delivery_ids(delivery_id))
        try:
            span = self._tracer.start_span(
                f"webhook {event}",
                start_time=start_ns,
                attributes={
                    "github.delivery": delivery_id,
                    "github.event": event,
                    "baton.intake.outcome": outcome,
                },
            )
        finally:
            _forced.reset(token)
        span.end()

    # -- the worker --

    @contextlib.contextmanager
    def run(
        self,
        *,
        delivery_id: str,
        job_id: int,
        attempt: int,
        repo: str,
        number: int,
        queued_at: float,
    ) -> Iterator[None]:
        """The job's attempt as a span under the delivery's intake, after its wait in the queue;
        spans the run's events open meanwhile go under it."""
        from opentelemetry import trace  # noqa: PLC0415
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags  # noqa: PLC0415

        trace_id, intake_id = delivery_ids(delivery_id)
        parent = trace.set_span_in_context(
            NonRecordingSpan(
                SpanContext(
                    trace_id,
                    intake_id,
                    is_remote=True,
                    trace_flags=TraceFlags(TraceFlags.SAMPLED),
                )
            )
        )
        now_ns = time.time_ns()
        wait = self._tracer.start_span(
            "queue wait", context=parent, start_time=int(queued_at * 1e9)
        )
        wait.set_attribute("baton.job", job_id)
        wait.end(end_time=now_ns)
        span = self._tracer.start_span(
            f"run {repo}#{number}",
            context=parent,
            start_time=now_ns,
            attributes={"baton.job": job_id, "baton.attempt": attempt, "baton.repo": repo},
        )
        with trace.use_span(span, end_on_exit=True, record_exception=True):
            yield

    def on_event(self, rec: RunRecord, kind: str, data: Mapping[str, object], /) -> None:
        """Spans from a run's events, in the run's own task (its context holds the run span)."""
        from opentelemetry import trace  # noqa: PLC0415

        spans = self._runs.setdefault(rec.id, _RunSpans(last_ns=time.time_ns()))
        now = time.time_ns()
        if kind == "started":
            self._end_agent(spans, rec, now)
            spans.agent = self._tracer.start_span(
                f"invoke_agent {rec.agent}",
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": rec.agent,
                    "gen_ai.request.model": rec.model,
                    "baton.adapter": rec.adapter,
                    "baton.run": rec.id,
                },
            )
        elif kind == "turn" and spans.agent is not None:
            if spans.turn is not None:
                spans.turn.end()
            spans.turn = self._tracer.start_span(
                f"chat {rec.model}".strip(),
                context=trace.set_span_in_context(spans.agent),
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": rec.model,
                    "baton.turn": int(str(data.get("turn", 0)) or 0),
                },
            )
        elif kind == "tool" and spans.agent is not None:
            self._tool(spans, data)
        elif kind in {"usage", "finished"} and spans.agent is not None:
            usage = data.get("usage")
            if isinstance(usage, dict):
                spans.agent.set_attribute("gen_ai.usage.input_tokens", usage.get("input_tokens", 0))
                spans.agent.set_attribute(
                    "gen_ai.usage.output_tokens", usage.get("output_tokens", 0)
                )
        if kind in _STEPS:
            self._end_agent(spans, rec, now)
            step = self._tracer.start_span(_STEPS[kind], start_time=spans.last_ns)
            step.end(end_time=now)
        if kind == "ended":
            failed = data.get("status") not in {"success", None}
            self._end_agent(spans, rec, now, failed=failed)
            if data.get("stage") != "agent":
                self._runs.pop(rec.id, None)
        spans.last_ns = now

    def _tool(self, spans: _RunSpans, data: Mapping[str, object]) -> None:
        from opentelemetry import trace  # noqa: PLC0415
        from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415

        call, ok = str(data.get("call", "")), data.get("ok")
        span = spans.tools.pop(call, None) if call and ok is not None else None
        if span is None:
            parent = spans.turn if spans.turn is not None else spans.agent
            name = str(data.get("tool", "tool"))
            span = self._tracer.start_span(
                f"execute_tool {name}",
                context=trace.set_span_in_context(parent),
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": name,
                    "gen_ai.tool.call.id": call,
                },
            )
            if ok is None and call:
                spans.tools[call] = span
                return
        if ok is False:
            span.set_status(Status(StatusCode.ERROR, "the tool call failed"))
        span.end()

    def _end_agent(
        self, spans: _RunSpans, rec: RunRecord, end_ns: int, *, failed: bool = False
    ) -> None:
        from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415

        for span in [*spans.tools.values(), spans.turn]:
            if span is not None:
                span.end(end_time=end_ns)
        spans.tools.clear()
        spans.turn = None
        agent, spans.agent = spans.agent, None
        if agent is None:
            return
        attributes: dict[str, Any] = {
            "gen_ai.response.model": rec.model,
            "gen_ai.usage.input_tokens": rec.input_tokens,
            "gen_ai.usage.output_tokens": rec.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": rec.cache_read_tokens,
            "gen_ai.usage.cache_creation.input_tokens": rec.cache_write_tokens,
            "baton.cost.source": rec.cost_source,
        }
        if rec.cost_usd is not None:
            attributes["gen_ai.usage.cost"] = rec.cost_usd
        agent.set_attributes(attributes)
        if failed:
            agent.set_status(Status(StatusCode.ERROR, rec.status))
        agent.end(end_time=end_ns)

    def shutdown(self) -> None:
        """Export what is left, then stop (the runtime's stop)."""
        self._provider.shutdown()


def tracing_from(env: Mapping[str, str]) -> Tracing | None:
    endpoint = env.get(ENDPOINT_VAR, "").strip()
    if not endpoint:
        return None
    return Tracing(endpoint, service=env.get("OTEL_SERVICE_NAME", "") or "baton")
