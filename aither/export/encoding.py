"""The OTLP protobuf of a batch of spans, written directly: standard OTLP, fewer objects.

opentelemetry-exporter-otlp-proto-common's ``encode_spans`` builds a protobuf message object
for every span, attribute and value of a batch, then serializes them: on the export thread,
with the GIL held, that is about half of what exporting a small span costs. Here the
``ExportTraceServiceRequest`` is written as protobuf wire format straight from the spans,
and an attribute's encoded bytes are remembered, so the attributes every span of a model
repeats (its name, framework, class, method) are encoded once per process, not per span.

What comes out decodes, with opentelemetry-proto or any OTLP receiver, to the same message
as ``encode_spans`` gives (``tests/core/test_encoding.py`` checks that); a span carrying
events or links (a recorded exception, rare) is encoded by ``encode_spans``'s own code.

:class:`aither.export.encoding_http.DirectOTLPSpanExporter` is the OTLP/HTTP exporter of
opentelemetry-exporter-otlp-proto-http with this encoder.

The export thread lets go of the GIL after each slice of about 2 ms of encoding
(:func:`yield_gil`): a thread that waits for the GIL otherwise gets it only when the holder
has run for the switch interval (5 ms), which an asyncio loop feels as that much lag at every
export. Slices by time, not by span: when the application's thread never waits (it is
CPU-bound), each yield costs the export thread a switch interval before it runs again, and
2 ms slices still leave it over a quarter of the GIL, enough to keep the queue moving.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

logger = logging.getLogger("aither")

_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
_FIXED32 = struct.Struct("<I")

_CACHE_MAX = 4096
_CACHED_STRING_MAX = 256
"""Attributes whose value is a string at most this long (or a bool or an int) are
remembered encoded; longer strings (samples' JSON) differ per span and are not."""

SLICE_SECONDS = 0.002
"""Work the export thread does between two yields of the GIL."""

_FLAGS_HAS_IS_REMOTE = 0x100
_FLAGS_IS_REMOTE = 0x200


_last_yield = [0.0]


def yield_gil() -> None:
    """Let a thread waiting for the GIL (the application's) run now, not at the switch
    interval, when the export thread has worked :data:`SLICE_SECONDS` since it last did."""
    now = time.perf_counter()
    if now - _last_yield[0] >= SLICE_SECONDS:
        time.sleep(0)
        _last_yield[0] = time.perf_counter()


def varint(value: int) -> bytes:
    """A protobuf varint; a negative value as its 64-bit two's complement (int64)."""
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_TAGS = [varint(number << 3 | 2) for number in range(16)]


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    size = len(payload)
    return _TAGS[number] + (bytes((size,)) if size < 0x80 else varint(size)) + payload


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message, with the type tests of the SDK's encoder in its order."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(1, value.encode("utf-8"))
    if isinstance(value, int):
        return b"\x18" + varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _field(7, value)
    if isinstance(value, Sequence):
        return _field(5, b"".join(_field(1, _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        return _field(6, b"".join(_field(1, _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value: Any) -> bytes:
    return _field(1, key.encode("utf-8")) + _field(2, _any_value(value))


class EncodedRequest:
    """An ``ExportTraceServiceRequest`` encoded ahead of sending, and what it carries.

    What the export queue keeps of a batch while it waits: ``data`` is ``bytes``, which the
    garbage collector does not track, so a queued batch is one tracked object whatever its
    size. ``len()`` is the number of spans (what exporters and their metrics count);
    ``accounted`` the bytes the ledger counted for them when they were queued.
    """

    __slots__ = ("accounted", "count", "data")

    def __init__(self, data: bytes, count: int, accounted: int) -> None:
        self.data = data
        self.count = count
        self.accounted = accounted

    def __len__(self) -> int:
        return self.count


class SpanEncoder:
    """Writes ``ExportTraceServiceRequest`` bytes; one per exporter, used by its thread only."""

    def __init__(self) -> None:
        self._attributes: dict[tuple[str, type, Any], bytes] = {}
        self._headers: dict[tuple[int, int], tuple[Any, Any, tuple[bytes, bytes, bytes, bytes]]] = {}

    def _attribute(self, key: str, value: Any) -> bytes:
        """One ``attributes`` entry (field 9 of a span) as bytes, remembered when it repeats."""
        kind = type(value)
        if kind is bool or kind is int or (kind is str and len(value) <= _CACHED_STRING_MAX):
            cache_key = (key, kind, value)
            cached = self._attributes.get(cache_key)
            if cached is None:
                cached = _field(9, _key_value(key, value))
                if len(self._attributes) >= _CACHE_MAX:
                    self._attributes.clear()
                self._attributes[cache_key] = cached
            return cached
        return _field(9, _key_value(key, value))

    def _attributes_of(self, attributes: Mapping[str, Any] | None, number: int) -> bytes:
        if not attributes:
            return b""
        parts = []
        for key, value in attributes.items():
            try:
                parts.append(_field(number, _key_value(key, value)))
            except Exception as exc:  # as the SDK's encoder does: skip the attribute, log
                logger.warning("aither: could not encode attribute %s: %s", key, exc)
        return b"".join(parts)

    def span(self, span: ReadableSpan) -> bytes:
        """One ``Span`` message."""
        # The SDK's own lists, read without the copy its ``events``/``links`` properties make.
        events = getattr(span, "_events", None)
        links = getattr(span, "_links", None)
        if (span.events if events is None else events) or (span.links if links is None else links):
            return _sdk_span(span)
        context = span.context
        assert context is not None
        out = [
            b"\x0a\x10",
            context.trace_id.to_bytes(16, "big"),
            b"\x12\x08",
            context.span_id.to_bytes(8, "big"),
        ]
        trace_state = context.trace_state
        if trace_state:
            out.append(_field(3, ",".join(f"{k}={v}" for k, v in trace_state.items()).encode("utf-8")))
        parent = span.parent
        if parent:
            out.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        out.append(_field(5, span.name.encode("utf-8")))
        kind = span.kind.value + 1  # the SDK's SpanKind starts at INTERNAL = 0, OTLP's at 1
        out.append(b"\x30" + varint(kind))
        if span.start_time:
            out.append(b"\x39" + _FIXED64.pack(span.start_time))
        if span.end_time:
            out.append(b"\x41" + _FIXED64.pack(span.end_time))
        attributes = span.attributes
        if attributes:
            attribute = self._attribute
            # A BoundedAttributes' plain dict, read without its Mapping's per-item lookups.
            plain = getattr(attributes, "_dict", attributes)
            for key, value in plain.items():
                try:
                    out.append(attribute(key, value))
                except Exception as exc:
                    logger.warning("aither: could not encode attribute %s: %s", key, exc)
        if span.dropped_attributes:
            out.append(b"\x50" + varint(span.dropped_attributes))
        status = span.status
        if status is not None:
            body = b""
            if status.description:
                body += _field(2, status.description.encode("utf-8"))
            if status.status_code.value:
                body += b"\x18" + varint(status.status_code.value)
            out.append(_field(15, body))
        flags = _FLAGS_HAS_IS_REMOTE | (_FLAGS_IS_REMOTE if parent is not None and parent.is_remote else 0)
        out.append(b"\x85\x01" + _FIXED32.pack(flags))
        return b"".join(out)

    def _header(self, span: ReadableSpan) -> tuple[bytes, bytes, bytes, bytes]:
        """The encoded ``resource`` and ``schema_url`` fields of a span's ``ResourceSpans``,
        and the ``scope`` and ``schema_url`` fields of its ``ScopeSpans``; remembered by the
        objects' identity (they are kept with their bytes, so an id is never reused meanwhile)."""
        resource = span.resource
        scope = span.instrumentation_scope
        key = (id(resource), id(scope))
        cached = self._headers.get(key)
        if cached is not None and cached[0] is resource and cached[1] is scope:
            return cached[2]
        resource_field = _field(1, self._attributes_of(resource.attributes, 1))
        resource_schema = _field(3, resource.schema_url.encode("utf-8")) if resource.schema_url else b""
        if scope is None:
            scope_field, scope_schema = _field(1, b""), b""
        else:
            body = _field(1, scope.name.encode("utf-8")) if scope.name else b""
            if scope.version:
                body += _field(2, scope.version.encode("utf-8"))
            body += self._attributes_of(scope.attributes, 3)
            scope_field = _field(1, body)
            scope_schema = _field(3, scope.schema_url.encode("utf-8")) if scope.schema_url else b""
        parts = (resource_field, resource_schema, scope_field, scope_schema)
        if len(self._headers) >= 64:
            self._headers.clear()
        self._headers[key] = (resource, scope, parts)
        return parts

    def request(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The ``ExportTraceServiceRequest`` of ``spans``, grouped by resource, then scope."""
        # resource id -> (its header, scope id -> (the scope's schema field, [scope field, spans...]))
        groups: dict[int, tuple[tuple[bytes, bytes, bytes, bytes], dict[int, tuple[bytes, list[bytes]]]]] = {}
        for span in spans:
            yield_gil()
            parts = self._header(span)
            group = groups.get(id(span.resource))
            if group is None:
                group = groups[id(span.resource)] = (parts, {})
            scope = group[1].get(id(span.instrumentation_scope))
            if scope is None:
                scope = group[1][id(span.instrumentation_scope)] = (parts[3], [parts[2]])
            scope[1].append(_field(2, self.span(span)))
        out = []
        for (resource_field, resource_schema, _, _), scopes in groups.values():
            body = [resource_field]
            for scope_schema, encoded in scopes.values():
                encoded.append(scope_schema)
                body.append(_field(2, b"".join(encoded)))
            body.append(resource_schema)
            out.append(_field(1, b"".join(body)))
        return b"".join(out)


def _sdk_span(span: ReadableSpan) -> bytes:
    from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import _encode_span

    data: bytes = _encode_span(span).SerializeToString()
    return data
