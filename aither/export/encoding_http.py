"""opentelemetry's OTLP/HTTP span exporter, encoding with :class:`~aither.export.encoding.SpanEncoder`.

Kept apart from :mod:`aither.export.encoding` so that importing aither does not import the
HTTP exporter (and requests) until a client exports over OTLP/HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from .encoding import EncodedRequest, SpanEncoder

logger = logging.getLogger("aither")


class DirectOTLPSpanExporter(OTLPSpanExporter):
    """opentelemetry's OTLP/HTTP span exporter, encoding with :class:`SpanEncoder`.

    Everything but the encoding (the session, retries, compression, timeouts, the size limit,
    the exporter's own metrics) is the package's; with a version of the package whose
    internals differ from those this was written against, ``export`` is the package's own.

    ``export`` also takes an :class:`EncodedRequest` (typed as the spans it carries) when
    :meth:`accepts_encoded` says so: its bytes are sent as they are.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encoder = SpanEncoder()
        self._direct = all(hasattr(self, name) for name in ("_client", "_metrics", "_max_request_size"))

    def accepts_encoded(self) -> bool:
        """Whether :meth:`export` sends an :class:`EncodedRequest`'s bytes."""
        return self._direct

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self._direct or self._shutdown:
            # (never with an EncodedRequest before shutdown: accepts_encoded() is False)
            return super().export(spans)
        encoded = spans if isinstance(spans, EncodedRequest) else None
        from opentelemetry.exporter.otlp.proto.http import trace_exporter as otlp

        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = encoded.data if encoded is not None else self._encoder.request(spans)
            except Exception as error:
                logger.error("aither: failed to encode a span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if 0 < self._max_request_size < len(data):
                logger.warning(
                    "aither: dropping a span batch: %d bytes exceeds max_request_size %d bytes.",
                    len(data),
                    self._max_request_size,
                )
                result.error = otlp.RequestPayloadTooLargeError(  # type: ignore[attr-defined]
                    f"Serialized span request size {len(data)} bytes exceeds max_request_size "
                    f"{self._max_request_size} bytes."
                )
                return SpanExportResult.FAILURE
            outcome = self._client.export(data)
            if not outcome.success:
                result.error = outcome.error
                result.error_attrs = (
                    {otlp.HTTP_RESPONSE_STATUS_CODE: outcome.status_code}  # type: ignore[attr-defined]
                    if outcome.status_code is not None
                    else None
                )
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
