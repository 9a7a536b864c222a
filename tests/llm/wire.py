"""A local HTTP server that speaks an LLM provider's wire format, for the official clients.

The provider fakes (``fake_openai.py``, ``fake_anthropic.py``, ``fake_gemini.py``) build on
:class:`WireServer`: a ``ThreadingHTTPServer`` on ``127.0.0.1:0`` (HTTP/1.1, keep-alive) that
answers each request from a script of :class:`Reply` objects and records every request it
got. A test points the official client at ``server.url`` (``base_url=``), scripts the replies,
calls, then asserts on the result, the spans and ``server.requests``. Nothing sleeps: a reply
is written before the client can read it.

Replies:

- :func:`json_reply`: a JSON body with a status (200, 429, 500...) and headers.
- :func:`sse_reply`: a ``text/event-stream`` body, sent in HTTP chunks, one per event, each
  flushed; ``drop_after=n`` closes the connection after ``n`` events without finishing the
  body (the client sees a broken stream).
- :func:`raw_reply`: any bytes.

Scripting (first match wins):

1. ``server.handler = fn``: ``fn(request) -> Reply | None`` decides (None: fall through);
2. ``server.add(reply, times=1)``: a queue, served in order; a queued item may also be a
   function of the request (``fn(request) -> Reply``), for replies that depend on it;
3. ``server.default``: the reply when nothing else is scripted (a 500 saying so otherwise).

Example::

    with WireServer() as server:
        server.add(json_reply({"id": "x"}), times=2)     # the same reply for two calls
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        ...
        assert server.requests[0].json()["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: tuple[bytes, ...] | None = None
    """For a streamed reply: the body in pieces, each sent as one HTTP chunk and flushed."""
    drop_after: int | None = None
    """For a streamed reply: close the connection after this many pieces, body unfinished."""


@dataclass(frozen=True)
class Request:
    """One request the server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.partition("?")[0]


def json_reply(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON body (``obj`` encoded) with ``status``."""
    return Reply(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(obj).encode(),
    )


def raw_reply(body: bytes, status: int = 200, content_type: str = "application/octet-stream") -> Reply:
    return Reply(status=status, headers={"content-type": content_type}, body=body)


def sse_event(data: Any, event: str | None = None) -> bytes:
    """One server-sent event: ``event: <name>`` (if any) and ``data: <json or text>``, then a
    blank line."""
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event is not None else ""
    return f"{head}data: {text}\n\n".encode()


def sse_reply(
    events: Iterable[bytes | str | Mapping[str, Any]],
    *,
    done: bool = False,
    drop_after: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """A ``text/event-stream`` reply. Each event is bytes (sent as is), a str (sent as a
    ``data:`` line) or a mapping (sent as JSON in a ``data:`` line). ``done`` ends with
    ``data: [DONE]`` (OpenAI's terminator)."""
    pieces = [e if isinstance(e, bytes) else sse_event(e) for e in events]
    if done:
        pieces.append(b"data: [DONE]\n\n")
    return Reply(
        status=200,
        headers={"content-type": "text/event-stream", "cache-control": "no-cache", **(headers or {})},
        events=tuple(pieces),
        drop_after=drop_after,
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # an idle keep-alive connection's thread ends by itself

    def setup(self) -> None:
        super().setup()
        # Headers, body and events go out in separate writes: without this, Nagle and delayed
        # ACKs hold each one back ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.wire.track(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # quiet

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.wire.respond(request)
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the client went away (closed a stream early)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.events is None:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for i, piece in enumerate(reply.events):
            if reply.drop_after is not None and i >= reply.drop_after:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        if reply.drop_after is not None and reply.drop_after >= len(reply.events):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    wire: WireServer


class WireServer:
    """A scripted HTTP server on ``127.0.0.1`` (a free port); a context manager.

    Threading: requests are served on the server's threads; ``add``, ``handler`` and
    ``requests`` may be used from the test's thread at any time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Reply | Callable[[Request], Reply]] = deque()
        self._sockets: list[socket.socket] = []
        self.requests: list[Request] = []
        self.handler: Callable[[Request], Reply | None] | None = None
        self.default: Reply | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.wire = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The base URL to give a client (fakes override it with the provider's prefix)."""
        return self.base

    # -- scripting -------------------------------------------------------------------------------
    def add(self, reply: Reply | Callable[[Request], Reply], times: int = 1) -> None:
        """Queue ``reply`` (or a function of the request that makes it) for the next ``times``
        requests, after those already queued."""
        with self._lock:
            self._queue.extend([reply] * times)

    def respond(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
        handler = self.handler
        if handler is not None:
            reply = handler(request)
            if reply is not None:
                return reply
        with self._lock:
            queued = self._queue.popleft() if self._queue else None
        if queued is not None:
            return queued if isinstance(queued, Reply) else queued(request)
        if self.default is not None:
            return self.default
        return json_reply({"error": {"message": f"no reply scripted for {request.path}"}}, status=500)

    @property
    def pending(self) -> int:
        """Replies queued and not served yet."""
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    # -- lifecycle ----------------------------------------------------------------------------------
    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def start(self) -> WireServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:  # end keep-alive connections, so their threads end too
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> WireServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
