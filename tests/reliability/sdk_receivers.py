"""Real local receivers that misbehave on cue, for the SDK's reliability tests.

- :class:`FaultyReceiver`: a real OTLP/HTTP receiver on 127.0.0.1 whose answer can be switched
  while it runs: accept, a status (with or without ``Retry-After``), a partial success
  (protobuf or JSON), a reset connection, a pause (answers held until resumed); it can also
  be taken down (the port closed: connections refused) and brought back on the same port.
- :class:`SilentReceiver`: a socket that listens and never accepts: the kernel completes
  the TCP handshake, nothing ever answers, and no thread of ours is spent on it.

Every wait here has a deadline.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class Answer:
    """How the receiver answers a request.

    ``kind``: ``"accept"`` (200, spans kept), ``"status"`` (``status``, spans not kept),
    ``"partial"`` (200, spans kept, ``rejected`` of them rejected with ``message``; the body is
    JSON when ``json_body``), ``"reset"`` (the connection is reset before any answer).
    """

    kind: str = "accept"
    status: int = 200
    retry_after: str | None = None
    rejected: int = 0
    message: str = ""
    json_body: bool = False


ACCEPT = Answer()
RESET = Answer("reset")


def status(code: int, retry_after: str | None = None) -> Answer:
    return Answer("status", status=code, retry_after=retry_after)


def partial(rejected: int, message: str, *, json_body: bool = False) -> Answer:
    return Answer("partial", rejected=rejected, message=message, json_body=json_body)


class FaultyReceiver:
    """``with FaultyReceiver() as r:``; ``r.base_url`` for ``aither.Client(base_url=...)``.

    ``answer`` may be changed at any time; ``pause()``/``resume()`` hold answers; ``down()``/
    ``up()`` close and reopen the port. Every request and every span name is recorded, with
    what was answered.
    """

    def __init__(self, answer: Answer = ACCEPT) -> None:
        self.answer = answer
        self.span_names: list[str] = []
        self.answers: list[str] = []  # one per request: "200", "429", "reset", ...
        self._changed = threading.Condition()
        self._running = threading.Event()
        self._running.set()
        self._port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def _serve(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                answer = receiver.answer
                if answer.kind == "reset":
                    # SO_LINGER 0: close() sends a RST, as a crashing receiver's kernel would.
                    self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    receiver._note("reset", [])
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not receiver._running.wait(30):
                    return
                if answer.kind == "status":
                    headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
                    receiver._note(str(answer.status), [])
                    self._answer(answer.status, b"", "application/x-protobuf", headers)
                    return
                request = ExportTraceServiceRequest.FromString(body)
                names = [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
                response = ExportTraceServiceResponse()
                if answer.kind == "partial":
                    response.partial_success.rejected_spans = answer.rejected
                    response.partial_success.error_message = answer.message
                receiver._note("200", names)  # kept before it is acknowledged, as a store would
                if answer.json_body:
                    from google.protobuf.json_format import MessageToJson

                    self._answer(200, MessageToJson(response).encode(), "application/json", {})
                else:
                    self._answer(200, response.SerializeToString(), "application/x-protobuf", {})

            def _answer(self, code: int, payload: bytes, content_type: str, headers: dict[str, str]) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")  # down() must leave no live connection
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = True

        deadline = time.monotonic() + 10
        while True:  # the port just closed may linger briefly before it can be bound again
            try:
                server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                self._changed_wait(0.05)
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def _changed_wait(self, seconds: float) -> None:
        with self._changed:
            self._changed.wait(seconds)

    def down(self) -> None:
        """Close the port: connections are refused until :meth:`up`."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def up(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            self._serve()

    def pause(self) -> None:
        """Hold every answer (the receiver reads requests, then freezes) until :meth:`resume`."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def __enter__(self) -> FaultyReceiver:
        self._serve()
        return self

    def __exit__(self, *exc: object) -> None:
        self._running.set()
        self.down()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- what was received -----------------------------------------------------------------------
    def _note(self, answered: str, names: list[str]) -> None:
        with self._changed:
            self.answers.append(answered)
            self.span_names.extend(names)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[FaultyReceiver], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` holds, at most ``timeout`` seconds; whether it does."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def count(self, answered: str) -> int:
        with self._changed:
            return self.answers.count(answered)


class SilentReceiver:
    """A port that accepts TCP connections (the kernel's backlog does) and never answers."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def __enter__(self) -> SilentReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()
