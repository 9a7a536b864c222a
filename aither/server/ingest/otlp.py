"""The OTLP/HTTP wire format: request bodies in, responses out, for protobuf and JSON.

Follows https://opentelemetry.io/docs/specs/otlp/#otlphttp: ``application/x-protobuf`` or
``application/json`` bodies, optionally gzip-compressed; the response uses the request's
encoding; errors carry a ``google.rpc.Status``. Pure functions, no HTTP framework: the route
calls them, the tests call them directly.
"""

from __future__ import annotations

import enum
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class Encoding(enum.Enum):
    """How a request body (and so its response) is encoded."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


class OtlpRequestError(Exception):
    """A request the server refuses, with the HTTP status to answer and a message for the sender."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_CONTENT_TYPES = {
    "application/x-protobuf": Encoding.PROTOBUF,
    "application/protobuf": Encoding.PROTOBUF,
    "application/json": Encoding.JSON,
}
# HTTP status -> google.rpc.Code, for the Status body of an error response
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


def body_encoding(content_type: str | None) -> Encoding:
    """The encoding named by a ``Content-Type`` header; 415 for anything else."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        return _CONTENT_TYPES[media]
    except KeyError:
        shown = media or "no Content-Type"
        raise OtlpRequestError(
            415, f"unsupported content type {shown!r}; send application/x-protobuf or application/json"
        ) from None


def response_encoding(content_type: str | None) -> Encoding:
    """The encoding to answer in: the request's when it is one of ours, else protobuf."""
    try:
        return body_encoding(content_type)
    except OtlpRequestError:
        return Encoding.PROTOBUF


_INFLATE_CHUNK = 64 * 1024


def decompress(body: bytes | bytearray, content_encoding: str | None, max_bytes: int) -> bytes | bytearray:
    """The body with its ``Content-Encoding`` undone, never more than ``max_bytes`` long.

    Inflates in chunks of 64 KiB straight into the buffer that will be parsed, stopping as soon
    as it passes ``max_bytes``: a gzip bomb costs about ``max_bytes`` of memory, never a copy
    of it, before it is refused with 413.
    """
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        if len(body) > max_bytes:
            raise OtlpRequestError(413, f"request body is larger than {max_bytes} bytes")
        return body
    if coding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif coding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise OtlpRequestError(415, f"unsupported Content-Encoding {coding!r}; use gzip or none")
    too_large = f"request body is larger than {max_bytes} bytes once decompressed"
    out = bytearray()
    view = memoryview(body)
    position = 0
    inflater = zlib.decompressobj(wbits)
    member_started = False
    try:
        # The input goes in 64 KiB slices of a memoryview, so zlib's unconsumed_tail (a copy)
        # stays small too; each slice is inflated 64 KiB at a time until it yields no more.
        while position < len(view):
            piece: bytes | memoryview = view[position : position + _INFLATE_CHUNK]
            position += len(piece)
            member_started = True
            while True:
                chunk = inflater.decompress(piece, _INFLATE_CHUNK)
                out += chunk
                if len(out) > max_bytes:
                    raise OtlpRequestError(413, too_large)
                piece = inflater.unconsumed_tail
                if inflater.eof or (not piece and len(chunk) < _INFLATE_CHUNK):
                    break
            if inflater.eof:  # a gzip stream may hold several members, one after another
                position -= len(inflater.unused_data)
                inflater = zlib.decompressobj(wbits)
                member_started = False
    except zlib.error as exc:
        raise OtlpRequestError(400, f"request body is not valid {coding}: {exc}") from None
    if member_started:
        raise OtlpRequestError(400, f"request body is truncated {coding} data")
    return out


_ID_FIELDS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_ID_LENGTHS = {"traceId": 32, "trace_id": 32}


def _hex_ids_to_base64(obj: dict[str, Any]) -> None:
    """OTLP/JSON writes ids as hex, where protobuf's JSON mapping expects base64; convert."""
    import base64

    for key in _ID_FIELDS:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            continue
        expected = _ID_LENGTHS.get(key, 16)
        if len(value) == expected:
            try:
                obj[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            except ValueError:
                pass  # not hex: leave it for protobuf to read as base64 or to refuse


def _children(obj: dict[str, Any], *names: str) -> list[dict[str, Any]]:
    for name in names:
        value = obj.get(name)
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
    return []


# Protobuf refuses messages nested more than 100 deep; in JSON each message level is one or two
# containers (an object, and an array for repeated fields), so nothing valid comes near this.
MAX_JSON_DEPTH = 256


def _too_deep(document: Any, limit: int) -> bool:
    """Whether ``document`` nests containers more than ``limit`` deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _json_to_message(payload: bytes | bytearray) -> ExportTraceServiceRequest:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OtlpRequestError(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # the json scanner recurses once per level: a deep body ends here
        raise OtlpRequestError(400, "request body is JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise OtlpRequestError(400, "request body must be a JSON object with resourceSpans")
    if _too_deep(document, MAX_JSON_DEPTH):
        raise OtlpRequestError(400, f"request body is JSON nested more than {MAX_JSON_DEPTH} levels deep")
    for resource_spans in _children(document, "resourceSpans", "resource_spans"):
        for scope_spans in _children(resource_spans, "scopeSpans", "scope_spans"):
            for span in _children(scope_spans, "spans"):
                _hex_ids_to_base64(span)
                for link in _children(span, "links"):
                    _hex_ids_to_base64(link)
    message = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise OtlpRequestError(400, f"request body is not an OTLP ExportTraceServiceRequest: {exc}") from None
    return message


def parse_request(payload: bytes | bytearray, encoding: Encoding) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from a decompressed body; 400 when it is not one."""
    if encoding is Encoding.JSON:
        return _json_to_message(payload)
    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(payload)
    except (DecodeError, ValueError, RuntimeError, TypeError) as exc:
        raise OtlpRequestError(
            400, f"request body is not an OTLP protobuf ExportTraceServiceRequest: {exc}"
        ) from None
    return message


def encode_response(rejected_spans: int, error_message: str, encoding: Encoding) -> bytes:
    """An ``ExportTraceServiceResponse``; ``partial_success`` only when there is something to say."""
    if encoding is Encoding.JSON:
        body: dict[str, Any] = {}
        if rejected_spans or error_message:
            body["partialSuccess"] = {"rejectedSpans": rejected_spans, "errorMessage": error_message}
        return json.dumps(body).encode()
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    response = ExportTraceServiceResponse()
    if rejected_spans or error_message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = error_message
    encoded: bytes = response.SerializeToString()
    return encoded


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_status(http_status: int, message: str, encoding: Encoding) -> bytes:
    """A ``google.rpc.Status`` error body (code, message), as OTLP/HTTP asks for failures."""
    code = _GRPC_CODES.get(http_status, 2)
    if encoding is Encoding.JSON:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode("utf-8")
    # google.rpc.Status: field 1 int32 code (varint), field 2 string message
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
