"""A real OTLP/HTTP receiver for tests: a threaded HTTP server that decodes protobuf with
opentelemetry-proto, records every span, and answers like a collector would."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    status_code: int
    events: list[dict[str, Any]]
    kind: str | None = field(default=None)


class OTLPReceiver:
    """Start with ``with OTLPReceiver() as r:``; ``r.endpoint`` is the /v1/traces URL."""

    def __init__(
        self,
        *,
        status: int = 200,
        require_key: str | None = None,
        hold: threading.Event | None = None,
        fail_first: int = 0,
    ) -> None:
        """``hold``: while set is pending, every request waits for it (an overloaded receiver).
        ``fail_first``: the first that many requests are answered 503 (a passing outage)."""
        self.fail_first = fail_first
        self.hold = hold
        self.spans: list[ReceivedSpan] = []
        self.requests: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        """Each stored request's protobuf body (gunzipped), in arrival order, to send on again."""
        self.status = status
        self.require_key = require_key
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.requests.append(headers)
                with receiver._lock:
                    outage = receiver.fail_first > 0
                    receiver.fail_first -= 1 if outage else 0
                if outage:
                    self._answer(503, b"")
                    return
                if receiver.require_key and headers.get("authorization") != f"Bearer {receiver.require_key}":
                    self._answer(401, b"")
                    return
                if receiver.status != 200:
                    self._answer(receiver.status, b"")
                    return
                if headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver._lock:
                    receiver.bodies.append(body)
                receiver._record(request)
                self._answer(200, ExportTraceServiceResponse().SerializeToString())

            def _answer(self, code: int, payload: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _record(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for rs in request.resource_spans:
            resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attributes = {kv.key: any_value(kv.value) for kv in s.attributes}
                    found.append(
                        ReceivedSpan(
                            name=s.name,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex() or None,
                            attributes=attributes,
                            resource=resource,
                            scope=ss.scope.name,
                            status_code=s.status.code,
                            events=[
                                {
                                    "name": e.name,
                                    "attributes": {kv.key: any_value(kv.value) for kv in e.attributes},
                                }
                                for e in s.events
                            ],
                            kind=attributes.get("aither.span.kind"),
                        )
                    )
        with self._lock:
            self.spans.extend(found)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1/traces"

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self, kind: str | None = None) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if kind is None or s.kind == kind]

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
