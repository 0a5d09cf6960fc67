"""A real OTLP/HTTP trace receiver on 127.0.0.1: it decodes each protobuf export as a
collector would and keeps the spans, for tests to read."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True, slots=True)
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: int
    service: str


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def _service(resource_spans: Any) -> str:
    attributes = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
    return str(attributes.get("service.name"))


def _span(s: Any, service: str) -> Span:
    return Span(
        name=s.name,
        trace_id=s.trace_id.hex(),
        span_id=s.span_id.hex(),
        parent_id=s.parent_span_id.hex(),
        start_ns=s.start_time_unix_nano,
        end_ns=s.end_time_unix_nano,
        attributes={a.key: _value(a.value) for a in s.attributes},
        status_code=s.status.code,
        service=service,
    )


class Receiver:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                ok = self.path == "/v1/traces" and (
                    self.headers.get("content-type") == "application/x-protobuf"
                )
                if ok:
                    receiver.take(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if ok else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                del args

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._lock = threading.Lock()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = [
            _span(s, service)
            for resource_spans in request.resource_spans
            for service in [_service(resource_spans)]
            for scope_spans in resource_spans.scope_spans
            for s in scope_spans.spans
        ]
        with self._lock:
            self.spans.extend(found)
            self.requests += 1

    def named(self, prefix: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.name.startswith(prefix)]

    def wait_for(self, prefix: str, timeout_s: float = 20.0) -> list[Span]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if found := self.named(prefix):
                return found
            time.sleep(0.05)
        raise AssertionError(f"no span {prefix!r}; got {[s.name for s in self.spans]}")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
