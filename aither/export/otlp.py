"""The OTLP/HTTP exporter aither sends with: OpenTelemetry's own, given a session that waits well.

``OTLPSpanExporter`` keeps its retry loop (``Retry-After`` on 429/503, exponential backoff,
the export deadline); aither passes it a ``requests.Session`` (its public ``session=``
argument) that adds two things the loop cannot see:

- **Outages end promptly.** A refused connection, or a gateway's 502/504 (or a 503 without
  ``Retry-After``), is tried again within the same request every ``OUTAGE_POLL`` seconds at
  most, until the request's own timeout (the export's remaining budget) runs out. The
  exporter's 1, 2, 4 s backoff would otherwise resume delivery up to seconds after the
  receiver is back. ``Retry-After`` is passed through to the exporter and honoured: the only
  long wait.
- **Partial success is read.** A 200 whose body is an ``ExportTraceServiceResponse`` (protobuf,
  or JSON when the content type says so) with ``partial_success.rejected_spans`` is noted, and
  the :class:`~aither.export.pipeline.LedgerExporter` counts those spans as failed.

Threading: one export at a time (the batch processor's export lock); ``close`` may come from
any thread and ends a wait at once.
"""

from __future__ import annotations

import json
import netrc  # noqa: F401  # see below
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from .encoding_http import DirectOTLPSpanExporter

# requests imports ``netrc`` inside its first request. A fork while the export thread holds
# that import's module lock leaves the lock held in the child for good, and the child's
# first export hangs on it (seen in tests/reliability): import it here, before any thread.

OUTAGE_POLL = 0.5
"""The longest pause between two tries at a receiver that is down: delivery resumes at most
about this long after it is back."""

_FIRST_PAUSE = 0.05
_GATEWAY_DOWN = frozenset({502, 503, 504})


class Rejection:
    """Spans a receiver accepted the request for but rejected (OTLP partial success)."""

    __slots__ = ("message", "spans")

    def __init__(self, spans: int, message: str) -> None:
        self.spans = spans
        self.message = message


def read_partial_success(response: requests.Response) -> Rejection | None:
    """The ``partial_success`` of a 2xx OTLP response, or None when every span was accepted.

    Never raises: a body that is neither an ``ExportTraceServiceResponse`` nor its JSON form
    counts as a full success, as the OTLP specification asks of an empty body.
    """
    body = response.content
    if not body:
        return None
    content_type = response.headers.get("content-type", "").lower()
    try:
        if "json" in content_type:
            decoded = json.loads(body)
            partial = decoded.get("partialSuccess", decoded.get("partial_success")) or {}
            if not isinstance(partial, Mapping):
                return None
            rejected = int(partial.get("rejectedSpans", partial.get("rejected_spans", 0)) or 0)
            message = str(partial.get("errorMessage", partial.get("error_message", "")) or "")
        else:
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceResponse,
            )

            parsed = ExportTraceServiceResponse.FromString(body)
            rejected = int(parsed.partial_success.rejected_spans)
            message = str(parsed.partial_success.error_message)
    except Exception:  # a body we cannot read is not a rejection
        return None
    if rejected <= 0 and not message:
        return None
    return Rejection(max(rejected, 0), message)


class ExportSession(requests.Session):
    """A ``requests.Session`` that rides out a receiver's outage in short steps and reads
    OTLP partial successes; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self._closing = threading.Event()
        self._rejections: list[Rejection] = []

    def request(  # type: ignore[override]
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        timeout = kwargs.get("timeout")
        budget = timeout if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else None
        deadline = time.monotonic() + budget if budget is not None else None
        pause = _FIRST_PAUSE
        while True:
            if deadline is not None:
                kwargs["timeout"] = max(deadline - time.monotonic(), 0.001)
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.exceptions.SSLError:
                raise  # a certificate problem does not pass with time
            except requests.exceptions.ConnectionError:
                if not self._pause(pause, deadline):
                    raise
            else:
                if not (self._receiver_down(response) and self._pause(pause, deadline)):
                    if 200 <= response.status_code < 300:
                        rejection = read_partial_success(response)
                        if rejection is not None:
                            self._rejections.append(rejection)
                    return response
                response.close()
            pause = min(pause * 2, OUTAGE_POLL)

    @staticmethod
    def _receiver_down(response: requests.Response) -> bool:
        # A gateway in front of a receiver that is down; a 503 that names its own wait goes
        # back to the exporter, which honours Retry-After.
        return response.status_code in _GATEWAY_DOWN and "retry-after" not in response.headers

    def _pause(self, pause: float, deadline: float | None) -> bool:
        """Wait ``pause`` seconds before another try; False when the budget (or the session)
        has run out."""
        if deadline is None or self._closing.is_set():
            return False
        if deadline - time.monotonic() <= pause:
            return False
        return not self._closing.wait(pause)

    def take_rejections(self) -> list[Rejection]:
        """The partial successes noted since the last call."""
        taken, self._rejections = self._rejections, []
        return taken

    def stop_waiting(self) -> None:
        """End any wait for a receiver that is down, now and from now on."""
        self._closing.set()

    def close(self) -> None:
        self.stop_waiting()
        super().close()


class OTLPExporter(DirectOTLPSpanExporter):
    """OpenTelemetry's OTLP/HTTP span exporter on an :class:`ExportSession`, writing the
    protobuf directly (:class:`~aither.export.encoding_http.DirectOTLPSpanExporter`).

    After each ``export``, :meth:`take_rejected` says how many of its spans the receiver
    rejected in a partial success, and why.
    """

    def __init__(self, *, endpoint: str, headers: Mapping[str, str], timeout: float, **options: Any) -> None:
        """``options`` are OTLPSpanExporter's own (compression, the TLS certificate files)."""
        self._aither_session = ExportSession()
        super().__init__(
            endpoint=endpoint, headers=dict(headers), timeout=timeout, session=self._aither_session, **options
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._aither_session.take_rejections()  # a previous export's leftovers are not this one's
        return super().export(spans)

    def take_rejected(self) -> tuple[int, list[str]]:
        """Spans rejected by the receiver in the last export, and its error messages."""
        rejections = self._aither_session.take_rejections()
        return sum(r.spans for r in rejections), [r.message for r in rejections if r.message]

    def interrupt(self) -> None:
        """Stop waiting for a receiver that is down (closing): the export in progress fails."""
        self._aither_session.stop_waiting()
