"""The counting processor and exporter around opentelemetry-sdk's own batch pipeline.

Threading: :meth:`LedgerSpanProcessor.on_end` runs on the caller's thread and never blocks
(a full queue drops and counts); :meth:`LedgerExporter.export` runs on the batch processor's
export thread, where JSON encoding of the deferred attributes happens. With the OTLP exporter
it also encodes each batch's request there and queues its bytes for the sender thread
(:mod:`aither.export.sender`), so that spans waiting out an outage cost the garbage collector
nothing; other exporters are called on the export thread itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from .._fork import after_fork_in_child
from ..sampling import faults
from .encoding import EncodedRequest, SpanEncoder
from .ledger import Ledger
from .sender import Sender

logger = logging.getLogger("aither")

_SPAN_BASE_BYTES = 1200
"""Rough memory of one queued ReadableSpan with its context, resource link and dicts."""

MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""About the most bytes one export request carries. A batch past it is sent as several
requests, so that a batch of large predictions (1,000 rows x 100 columns is ~2 MB of JSON a
span) never meets a receiver's body limit (aither server's 16 MiB, the OpenTelemetry
Collector's 20 MiB, the OTLP exporter's own 64 MiB) and is refused whole. A single span
larger than this still goes, alone."""


ENCODE_AHEAD = True
"""Encode requests on the export thread as batches are taken and queue them as bytes for a
sender thread, when the exporter accepts them (aither's OTLP/HTTP one). False: the export
thread sends each batch itself and the queue holds ReadableSpans, a dozen objects each for
the garbage collector to walk (``benchmarks/gc_queue.py`` compares the two). Read when a
client is created."""

SENDER_CLOSE_TIMEOUT = 30.0
"""At shutdown, how long the sender may take to send what is queued (as long as the batch
processor's own shutdown waits for its thread); a client's ``close`` waits at most its own
timeout anyway."""


class DeferredPayload:
    """Attributes whose encoding waits for the export thread (principle 2: O(sample) on the caller).

    ``items`` holds ``(attribute name, value)`` pairs, each value a bounded sample that the
    exporter's ``encode`` turns into a JSON string; ``raw`` holds attributes set as they are.
    """

    __slots__ = ("approx_bytes", "items", "raw")

    def __init__(
        self, items: list[tuple[str, Any]], approx_bytes: int, raw: list[tuple[str, Any]] | None = None
    ) -> None:
        self.items = items
        self.approx_bytes = approx_bytes
        self.raw = raw


def _approx_span_bytes(span: ReadableSpan) -> int:
    """O(1) for the usual span: a flat allowance per attribute; exception events (rare, and
    carrying a stack trace) are measured."""
    attributes = span.attributes
    size = _SPAN_BASE_BYTES + (96 * len(attributes) if attributes else 0)
    # ``span.events`` copies the events into a new tuple; the SDK's own list is read instead.
    events = getattr(span, "_events", None)
    if events is None:
        events = span.events
    if not events:
        return size
    for event in events:
        size += 200
        if event.attributes:
            for value in event.attributes.values():
                size += len(value) if isinstance(value, str) else 16
    return size


class LedgerSpanProcessor(SpanProcessor):
    """Admits each ended span against the span and byte bounds, then batches it for export.

    Spans over either bound are dropped and counted, never blocking the caller. The wrapped
    ``BatchSpanProcessor`` is sized one above our bound so it never drops on its own.
    """

    def __init__(
        self,
        exporter: LedgerExporter,
        ledger: Ledger,
        *,
        max_queue_size: int,
        max_queue_bytes: int,
        batch_size: int,
        flush_interval: float,
        export_timeout: float,
    ) -> None:
        self._ledger = ledger
        self._max_spans = max_queue_size
        self._max_bytes = max_queue_bytes
        self._closed = False
        # A span's deferred payload, or the bytes of the attributes set on it ahead of export.
        self._deferred: dict[int, DeferredPayload | int] = {}
        self._exporter = exporter
        exporter.bind(self)
        self._inflight: dict[int, tuple[DeferredPayload | None, int]] = {}
        self._batch = BatchSpanProcessor(
            exporter,
            max_queue_size=max_queue_size + 1,
            schedule_delay_millis=flush_interval * 1000,
            max_export_batch_size=min(batch_size, max_queue_size),
            export_timeout_millis=export_timeout * 1000,
        )
        after_fork_in_child(self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        # The parent keeps and exports its own queue; the BatchSpanProcessor re-creates its
        # worker thread in the child by itself, and the child starts a ledger of its own.
        self._ledger.reset()
        self._deferred = {}
        self._inflight = {}
        self._exporter.after_fork()

    def defer(self, span_id: int, payload: DeferredPayload | int) -> None:
        """Attach attributes to be encoded at export time to the span with this id, or (an
        int) count that many bytes of attributes already set on it against the byte bound."""
        self._deferred[span_id] = payload

    light_spans = True
    """Its ``on_start`` does nothing: :mod:`aither.tracing.light` spans, which skip it, may
    be processed here."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        span_id = context.span_id if context is not None else 0
        deferred = self._deferred.pop(span_id, None)
        if self._closed:
            self._ledger.refuse()
            return
        size = _approx_span_bytes(span)
        payload: DeferredPayload | None = None
        if isinstance(deferred, int):
            size += deferred
        elif deferred is not None:
            payload = deferred
            size += deferred.approx_bytes
        if not self._ledger.admit(size, self._max_spans, self._max_bytes):
            return
        self._inflight[span_id] = (payload, size)
        self._batch.on_end(span)

    @property
    def exporter(self) -> LedgerExporter:
        return self._exporter

    def take(self, span_id: int) -> tuple[DeferredPayload | None, int]:
        """Called by the exporter: the span's deferred payload and its accounted size."""
        return self._inflight.pop(span_id, (None, _SPAN_BASE_BYTES))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export what is queued; with a sender, wait (at most ``timeout_millis``) until it
        has sent what the export thread encoded."""
        deadline = time.monotonic() + timeout_millis / 1000
        flushed = self._batch.force_flush(timeout_millis)
        return self._exporter.wait_sent(max(0.0, deadline - time.monotonic())) and flushed

    def shutdown(self) -> None:
        self._closed = True
        self._batch.shutdown()  # type: ignore[no-untyped-call]

    @property
    def closed(self) -> bool:
        return self._closed


class LedgerExporter(SpanExporter):
    """Encodes deferred attributes, then hands the batch to the real exporter and counts.

    Any exporter works as ``inner``: the OTLP/HTTP one, an in-memory one for tests, or a
    user's own. One whose ``accepts_encoded()`` is true (aither's OTLP/HTTP exporter, under
    :class:`~aither.export.delivery.DeliveryReporter`) gets each request encoded on the export
    thread and sent by a :class:`~aither.export.sender.Sender` (see :data:`ENCODE_AHEAD`).
    """

    def __init__(
        self,
        inner: SpanExporter,
        ledger: Ledger,
        encode: Callable[[Any], str],
        on_internal_error: Callable[[BaseException, str], None],
        make_inner: Callable[[], SpanExporter] | None = None,
        on_value_faults: Callable[[int, BaseException, str], None] | None = None,
    ) -> None:
        self._inner = inner
        self._ledger = ledger
        self._encode = encode
        self._on_internal_error = on_internal_error
        self._on_value_faults = on_value_faults
        self._make_inner = make_inner
        self._rejection_messages: set[str] = set()
        self._processor: LedgerSpanProcessor | None = None
        self._lock = threading.Lock()
        accepts = getattr(inner, "accepts_encoded", None)
        self._encoder: SpanEncoder | None = None
        self._sender: Sender | None = None
        if ENCODE_AHEAD and accepts is not None and accepts():
            self._encoder = SpanEncoder()
            self._sender = Sender(self._send_encoded)

    @property
    def inner(self) -> SpanExporter:
        return self._inner

    def bind(self, processor: LedgerSpanProcessor) -> None:
        self._processor = processor

    def after_fork(self) -> None:
        # A connection pool inherited from the parent shares its sockets: start a fresh one.
        self._lock = threading.Lock()
        if self._make_inner is not None:
            self._inner = self._make_inner()
        if self._sender is not None:
            # The parent's sender thread is not in the child, and its queue is the parent's.
            self._encoder = SpanEncoder()
            self._sender = Sender(self._send_encoded)

    @property
    def encoded_spans(self) -> int:
        """Spans in requests encoded and waiting for the sender (0 without a sender)."""
        return self._sender.pending if self._sender is not None else 0

    def wait_sent(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds until the sender has sent every request queued so
        far; True at once without a sender."""
        return self._sender.flush(timeout) if self._sender is not None else True

    def _finalize(self, span: ReadableSpan, payload: DeferredPayload) -> tuple[ReadableSpan, int]:
        """The span with its deferred attributes encoded, and their length in characters."""
        attributes: dict[str, Any] = dict(span.attributes or {})
        if payload.raw:
            attributes.update(payload.raw)
        encoded = 0
        for key, value in payload.items:
            try:
                text = self._encode(value)
            except Exception as exc:  # the encoder never raises by design; be sure anyway
                self._on_internal_error(exc, "encode")
                text = '{"_error": "aither could not encode this value"}'
            attributes[key] = text
            encoded += len(text)
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=attributes,
            events=span.events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        ), encoded

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode the deferred attributes, then send the batch in requests of at most about
        :data:`MAX_REQUEST_BYTES`; each request's spans are counted exported or failed. With
        a sender, each request is encoded here and queued for it: this returns at once, and
        the sender counts."""
        processor = self._processor
        requests: list[tuple[list[ReadableSpan], int]] = []  # (spans, their accounted queue bytes)
        current: list[ReadableSpan] = []
        accounted = weight = 0
        for span in spans:
            payload, size = (None, 0)
            if processor is not None and span.context is not None:
                payload, size = processor.take(span.context.span_id)
            ready, span_weight = span, size
            if payload is not None:
                ready, encoded = self._finalize(span, payload)
                span_weight = size - payload.approx_bytes + encoded
            if current and weight + span_weight > MAX_REQUEST_BYTES:
                requests.append((current, accounted))
                current, accounted, weight = [], 0, 0
            current.append(ready)
            accounted += size
            weight += span_weight
        if current or not requests:
            requests.append((current, accounted))
        count, fault = faults.take()  # values whose __repr__ raised while being encoded
        if count and fault is not None and self._on_value_faults is not None:
            self._on_value_faults(count, fault, "encoding a sampled value")
        if self._sender is not None and self._encoder is not None:
            errors: list[Exception] = []
            for batch, accounted in requests:
                error = self._encode_ahead(self._encoder, self._sender, batch, accounted) if batch else None
                if error is not None:
                    errors.append(error)
            # Reported once every request is queued or counted (the report may re-raise).
            for error in errors:
                self._on_internal_error(error, "encode")
            return SpanExportResult.SUCCESS
        all_ok = True
        for batch, accounted in requests:
            all_ok = self._send(batch, accounted) and all_ok
        return SpanExportResult.SUCCESS if all_ok else SpanExportResult.FAILURE

    def _encode_ahead(
        self, encoder: SpanEncoder, sender: Sender, batch: list[ReadableSpan], accounted: int
    ) -> Exception | None:
        """Encode ``batch``'s request now and queue its bytes for the sender; on an error,
        count the batch failed and return the error."""
        try:
            data = encoder.request(batch)
        except Exception as exc:  # the encoder skips what it cannot encode; be sure anyway
            self._ledger.settle(len(batch), accounted, ok=False)
            return exc
        sender.put(EncodedRequest(data, len(batch), accounted))
        return None

    def _send_encoded(self, request: EncodedRequest) -> None:
        # The exporter chain takes the request where it takes spans (it only counts them).
        self._send(cast("Sequence[ReadableSpan]", request), request.accounted)

    def _send(self, batch: Sequence[ReadableSpan], accounted: int) -> bool:
        """Export one request and count its spans exported or failed; True when all arrived."""
        take_rejected: Callable[[], tuple[int, list[str]]] | None
        take_rejected = getattr(self._inner, "take_rejected", None)  # OTLPExporter's partial successes
        ok = False
        rejected = 0
        try:
            ok = self._inner.export(batch) is SpanExportResult.SUCCESS
            if ok and take_rejected is not None:
                rejected, messages = take_rejected()
                if rejected:
                    self._log_rejection(rejected, len(batch), messages)
        except Exception as exc:
            self._on_internal_error(exc, "export")
        finally:
            # Counted whatever happened, even when on_internal_error re-raises.
            self._ledger.settle(len(batch), accounted, ok=ok, rejected=rejected)
        return ok and not rejected

    def _log_rejection(self, rejected: int, sent: int, messages: list[str]) -> None:
        """Log a partial success once per message of the receiver (the count is in ``stats().failed``)."""
        message = "; ".join(messages) or "(no error message)"
        if message in self._rejection_messages or len(self._rejection_messages) >= 100:
            return
        self._rejection_messages.add(message)
        logger.warning(
            "aither: the receiver accepted an export but rejected %d of its %d spans: %s "
            "(logged once per message; counted in aither.stats().failed)",
            rejected,
            sent,
            message,
        )

    def shutdown(self) -> None:
        if self._sender is not None:
            self._sender.close(SENDER_CLOSE_TIMEOUT)
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
