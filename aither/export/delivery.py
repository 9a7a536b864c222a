"""What the user hears about delivery: ``on_error`` for failed exports (rate-limited per cause),
and with ``debug=True`` one log line per export request with its size and result.

:class:`DeliveryReporter` wraps the real exporter (OTLP/HTTP or the user's), below the counting
one: it sees each request exactly as sent. The OTLP exporter says why a request failed only in
its log ("Failed to export span batch code: 401, reason: Unauthorized"); a filter on that
logger (which drops nothing, and, unlike a handler, leaves the exporter's own messages going
where they went) hands the message to the reporter of the thread that is exporting, which
makes it the cause.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..exceptions import DeliveryError
from .encoding import EncodedRequest

logger = logging.getLogger("aither")

REPORT_INTERVAL = 60.0
"""``on_error`` hears of one cause at most once per this many seconds, with the count since."""
RETRY_BACKOFF = 0.5
"""Seconds before aither's first re-send of a failed request (``max_retries``); doubled each time."""
_STATUS = re.compile(r"code: (\d{3})")
_FINAL_STATUSES = frozenset(range(400, 500)) - {408, 429}
"""Refusals a re-send cannot fix (a wrong key, a malformed request): never re-sent."""

_OTLP_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)
_exporting = threading.local()


class _CauseFilter(logging.Filter):
    """Keeps the OTLP exporter's last warning or error for the thread exporting through aither;
    lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_exporting, "active", False) and record.levelno >= logging.WARNING:
            try:
                _exporting.cause = record.getMessage()[:300]
            except Exception:
                pass
        return True


_filter = _CauseFilter()
for _name in _OTLP_LOGGERS:
    logging.getLogger(_name).addFilter(_filter)


def _request_bytes(spans: Sequence[ReadableSpan]) -> int | None:
    """The protobuf size of the request (before compression); for debug logging only."""
    if isinstance(spans, EncodedRequest):
        return len(spans.data)
    try:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        return int(encode_spans(spans).ByteSize())
    except Exception:
        return None


class DeliveryReporter(SpanExporter):
    """Passes requests to ``inner``; reports failures to ``on_error`` (at most once per
    :data:`REPORT_INTERVAL` per cause, with the count) and, with ``debug``, logs each request."""

    def __init__(
        self,
        inner: SpanExporter,
        endpoint: str,
        on_error: Callable[[BaseException], object] | None,
        debug: bool,
        *,
        max_retries: int = 0,
        interval: float = REPORT_INTERVAL,
    ) -> None:
        self._inner = inner
        self._max_retries = max_retries
        self._stopping = threading.Event()
        self._endpoint = endpoint
        self._on_error = on_error
        self._debug = debug
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, int, float]] = {}  # cause -> (failures, spans, last report)

    @property
    def inner(self) -> SpanExporter:
        return self._inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send one request; a failure is re-sent up to ``max_retries`` times (after
        OpenTelemetry's exporter has made its own attempts), waiting 0.5 s, 1 s, 2 s... between,
        unless the server refused it for good (a 4xx other than 408 and 429)."""
        size = _request_bytes(spans) if self._debug else None
        attempt = 0
        while True:
            result, cause, started = self._attempt(spans, size)
            if result is SpanExportResult.SUCCESS or attempt >= self._max_retries or self._final(cause):
                break
            if self._debug:
                logger.info("aither: exporting %d spans failed (%s); sending again", len(spans), cause)
            if self._stopping.wait(RETRY_BACKOFF * 2**attempt):
                break  # shutting down: no more waiting
            attempt += 1
        if result is not SpanExportResult.SUCCESS:
            self._failed(cause or "the exporter reported a failure", len(spans), size, started)
        return result

    @staticmethod
    def _final(cause: str | None) -> bool:
        match = _STATUS.search(cause or "")
        return match is not None and int(match.group(1)) in _FINAL_STATUSES

    def _attempt(
        self, spans: Sequence[ReadableSpan], size: int | None
    ) -> tuple[SpanExportResult, str | None, float]:
        started = time.monotonic()
        _exporting.active, _exporting.cause = True, None
        try:
            result = self._inner.export(spans)
        except Exception as exc:
            self._failed(f"{type(exc).__name__}: {exc}"[:300], len(spans), size, started)
            raise
        finally:
            _exporting.active = False
        if result is SpanExportResult.SUCCESS and self._debug:
            logger.info(
                "aither: exported %d spans (%s bytes) to %s in %.0f ms: ok",
                len(spans),
                size if size is not None else "?",
                self._endpoint,
                (time.monotonic() - started) * 1000,
            )
        return result, _exporting.cause, started

    def _failed(self, cause: str, count: int, size: int | None, started: float) -> None:
        if self._debug:
            logger.info(
                "aither: exporting %d spans (%s bytes) to %s failed after %.0f ms: %s",
                count,
                size if size is not None else "?",
                self._endpoint,
                (time.monotonic() - started) * 1000,
                cause,
            )
        on_error = self._on_error
        if on_error is None:
            return
        now = time.monotonic()
        with self._lock:
            failures, spans, last = self._pending.get(cause, (0, 0, float("-inf")))
            failures, spans = failures + 1, spans + count
            if now - last < self._interval:
                self._pending[cause] = (failures, spans, last)
                return
            self._pending[cause] = (0, 0, now)
        try:
            on_error(DeliveryError(cause, failures=failures, spans=spans, endpoint=self._endpoint))
        except Exception:
            logger.warning("aither: on_error raised", exc_info=True)

    def shutdown(self) -> None:
        self._stopping.set()
        self._inner.shutdown()

    # The OTLP exporter's extras (aither.export.otlp.OTLPExporter), passed through.
    def accepts_encoded(self) -> bool:
        """Whether ``export`` takes an :class:`~aither.export.encoding.EncodedRequest`."""
        accepts = getattr(self._inner, "accepts_encoded", None)
        return bool(accepts()) if accepts is not None else False

    def take_rejected(self) -> tuple[int, list[str]]:
        """Spans the receiver rejected in the last export (partial success), and why."""
        take = getattr(self._inner, "take_rejected", None)
        return take() if take is not None else (0, [])

    def interrupt(self) -> None:
        """Stop waiting for a receiver that is down (closing): no more retries."""
        self._stopping.set()
        interrupt = getattr(self._inner, "interrupt", None)
        if interrupt is not None:
            interrupt()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
