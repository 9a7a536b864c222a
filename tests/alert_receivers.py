"""Real receivers for alert tests: an HTTP server that records requests and answers as scripted,
a socket that accepts and never answers, and an SMTP server (aiosmtpd). All on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aither.server.alerts import AnomalyNotice


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """time.monotonic() when it arrived."""

    def json(self) -> Any:
        return json.loads(self.body)


class HookReceiver:
    """Answers each POST with the next scripted ``(status, headers)``, then 200; keeps every request."""

    def __init__(self, script: list[tuple[int, dict[str, str]]] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[Received] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._arrived:
                    status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                    receiver.requests.append(
                        Received(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                        )
                    )
                    receiver._arrived.notify_all()
                answer = b"ok" if status < 300 else b"nope"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The first ``count`` requests, once they have arrived; AssertionError at the deadline."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.requests)} of {count} requests arrived in {timeout} s"
                self._arrived.wait(left)
            return list(self.requests[:count])

    def __enter__(self) -> HookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class SilentServer:
    """Accepts connections and never reads or answers: a channel that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.connections: list[socket.socket] = []
        self.accepted = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)
            self.accepted.set()

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for connection in self.connections:
            connection.close()


@dataclass
class SMTPSink:
    """What the SMTP server received."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        self.arrived.set()
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(login: tuple[str, str] | None = None) -> Iterator[tuple[SMTPSink, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port; with ``login``, it checks
    AUTH with that user and password (offered over plain TCP: a test has no certificate)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
        return AuthResult(success=ok, handled=False)  # handled=True would leave the client waiting

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    sink = SMTPSink()
    auth: dict[str, Any] = {}
    if login is not None:
        auth = {"authenticator": authenticate, "auth_require_tls": False}
    controller = Controller(sink, hostname="127.0.0.1", port=port, **auth)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def notice(org_id: str, **changes: Any) -> AnomalyNotice:
    """A latency-spike notice of ``fraud_detector``; ``changes`` replace fields."""
    now = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.timezone.utc)
    fields: dict[str, Any] = {
        "id": 7,
        "org_id": org_id,
        "event": "opened",
        "rule": "latency_spike",
        "anomaly_type": "latency_spike",
        "severity": "high",
        "detection_method": "z_score",
        "title": "Latency spike on fraud_detector",
        "message": "p95 latency 840 ms against a baseline of 120 ms",
        "recommended_action": "Check the model host's CPU and recent deploys.",
        "target": {"service": "scoring-api", "model": "fraud_detector", "version": "1.2.3"},
        "count": 3,
        "first_seen": now,
        "last_seen": now + dt.timedelta(minutes=5),
        "status": "open",
        "evidence": {"observed_ms": 840.0, "baseline_ms": 120.0, "z": 6.2},
    }
    fields.update(changes)
    return AnomalyNotice(**fields)
