"""The OTLP/HTTP wire format: content types, compression limits, OTLP/JSON, responses."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from otlp_builder import Spans, request

from aither.server.ingest.decode import decode_export_request
from aither.server.ingest.otlp import (
    Encoding,
    OtlpRequestError,
    body_encoding,
    decompress,
    encode_response,
    encode_status,
    parse_request,
)


def _status_of(error: pytest.ExceptionInfo[OtlpRequestError]) -> int:
    return error.value.status


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        ("application/x-protobuf", Encoding.PROTOBUF),
        ("application/protobuf", Encoding.PROTOBUF),
        ("Application/JSON; charset=utf-8", Encoding.JSON),
    ],
)
def test_content_types(header: str, encoding: Encoding) -> None:
    assert body_encoding(header) is encoding


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/xml"])
def test_other_content_types_are_415(header: str | None) -> None:
    with pytest.raises(OtlpRequestError) as error:
        body_encoding(header)
    assert _status_of(error) == 415


def test_gzip_and_deflate_are_inflated() -> None:
    data = b"x" * 10_000
    assert decompress(gzip.compress(data), "gzip", 20_000) == data
    assert decompress(zlib.compress(data), "deflate", 20_000) == data
    assert decompress(gzip.compress(data[:10]) + gzip.compress(data[10:]), "gzip", 20_000) == data
    assert decompress(data, None, 20_000) == data


def test_gzip_bomb_is_stopped_at_the_limit() -> None:
    bomb = gzip.compress(bytes(200 * 1024 * 1024))  # 200 MiB of zeros in about 200 KB
    assert len(bomb) < 1024 * 1024
    with pytest.raises(OtlpRequestError) as error:
        decompress(bomb, "gzip", 1024 * 1024)
    assert _status_of(error) == 413


@pytest.mark.parametrize(
    ("payload", "coding", "status"),
    [
        (b"x" * 2048, None, 413),
        (b"not gzip at all", "gzip", 400),
        (gzip.compress(b"y" * 1000)[:-12], "gzip", 400),
        (b"abc", "br", 415),
    ],
)
def test_bad_bodies(payload: bytes, coding: str | None, status: int) -> None:
    with pytest.raises(OtlpRequestError) as error:
        decompress(payload, coding, 1024)
    assert _status_of(error) == status


def test_otlp_json_with_hex_ids_decodes_like_protobuf() -> None:
    spans = Spans()
    message = request([spans.prediction("fraud", [1, 0]), spans.span("other", {"k": "v"})])
    document = json_format.MessageToDict(message)
    # protobuf's JSON mapping writes ids as base64; OTLP/JSON writes them as hex
    for span, original in zip(
        document["resourceSpans"][0]["scopeSpans"][0]["spans"],
        message.resource_spans[0].scope_spans[0].spans,
        strict=True,
    ):
        span["traceId"] = original.trace_id.hex()
        span["spanId"] = original.span_id.hex()
    from_json = decode_export_request(parse_request(json.dumps(document).encode(), Encoding.JSON))
    from_protobuf = decode_export_request(message)
    assert [s.key for s in from_json.spans] == [s.key for s in from_protobuf.spans]
    assert from_json.spans[0].attributes == from_protobuf.spans[0].attributes
    assert from_json.predictions[0].sample == [1, 0]


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'{"resourceSpans": 5}', b"\xff\xfe"])
def test_bad_json_is_400(payload: bytes) -> None:
    with pytest.raises(OtlpRequestError) as error:
        parse_request(payload, Encoding.JSON)
    assert _status_of(error) == 400


def test_truncated_protobuf_is_400() -> None:
    payload = request([Spans().prediction("fraud", [1, 0, 1])]).SerializeToString()
    with pytest.raises(OtlpRequestError) as error:
        parse_request(payload[: len(payload) // 2], Encoding.PROTOBUF)
    assert _status_of(error) == 400
    assert "not an OTLP protobuf" in error.value.message


def test_responses_mirror_the_encoding() -> None:
    response = ExportTraceServiceResponse.FromString(encode_response(2, "two bad ids", Encoding.PROTOBUF))
    assert (response.partial_success.rejected_spans, response.partial_success.error_message) == (
        2,
        "two bad ids",
    )
    assert encode_response(0, "", Encoding.PROTOBUF) == b""
    assert json.loads(encode_response(0, "", Encoding.JSON)) == {}
    assert json.loads(encode_response(1, "bad", Encoding.JSON)) == {
        "partialSuccess": {"rejectedSpans": 1, "errorMessage": "bad"}
    }


def test_error_status_is_a_google_rpc_status() -> None:
    from google.rpc import status_pb2

    status = status_pb2.Status.FromString(encode_status(401, "invalid API key", Encoding.PROTOBUF))
    assert (status.code, status.message) == (16, "invalid API key")
    assert json.loads(encode_status(413, "too big", Encoding.JSON)) == {"code": 8, "message": "too big"}
