"""Malformed and hostile OTLP bodies: every one is a 4xx, none a 500, and the server holds."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib

import httpx
import pytest

from aither.server import ServerSettings
from aither.server.ingest.otlp import Encoding, OtlpRequestError, decompress, parse_request

from . import server_fixtures as fx
from .server_fixtures import JSON, PROTOBUF, Spans, body, span_count

client, settings, storage = fx.client, fx.settings, fx.storage

GZIP_JSON = {**JSON, "content-encoding": "gzip"}


def _nested_value(depth: int) -> str:
    """An OTLP/JSON attribute value with ``depth`` key-value lists inside each other."""
    return '{"kvlistValue":{"values":[{"key":"k","value":' * depth + '{"stringValue":"x"}' + "}]}}" * depth


def _span_head(trace_id: str, span_id: str) -> str:
    """The start of an OTLP/JSON span object, up to where its attributes go."""
    times = '"startTimeUnixNano":"1","endTimeUnixNano":"2"'
    return f'{{"traceId":"{trace_id}","spanId":"{span_id}","name":"n",{times},'


def _deep_bodies() -> dict[str, bytes]:
    span = _span_head("1" * 32, "2" * 16)
    return {
        "arrays": b"[" * 100_000 + b"]" * 100_000,
        "objects in resourceSpans": b'{"resourceSpans":' + b'{"a":' * 5_000 + b"1" + b"}" * 5_001,
        "attribute values": (
            '{"resourceSpans":[{"scopeSpans":[{"spans":['
            + span
            + '"attributes":[{"key":"a","value":'
            + _nested_value(2_000)
            + "}]}]}]}]}"
        ).encode(),
        "just past the limit": ('{"resourceSpans":' + "[" * 256 + "]" * 256 + "}").encode(),
    }


@pytest.mark.parametrize("name", sorted(_deep_bodies()))
async def test_deeply_nested_json_is_400(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post("/v1/traces", content=_deep_bodies()[name], headers=JSON)
    assert response.status_code == 400, response.text
    assert "nested" in response.json()["message"] or "deep" in response.json()["message"]


def test_deep_json_raises_the_decoders_own_error() -> None:
    for payload in _deep_bodies().values():
        with pytest.raises(OtlpRequestError) as caught:
            parse_request(payload, Encoding.JSON)
        assert caught.value.status == 400


async def test_nesting_within_protobufs_limit_is_stored(
    client: httpx.AsyncClient, settings: ServerSettings
) -> None:
    """The depth bound refuses only what protobuf would refuse anyway: 20 nested lists are fine."""
    span = _span_head("3" * 32, "4" * 16)
    payload = (
        '{"resourceSpans":[{"scopeSpans":[{"spans":['
        + span
        + '"attributes":[{"key":"a","value":'
        + _nested_value(20)
        + "}]}]}]}]}"
    )
    response = await client.post("/v1/traces", content=payload.encode(), headers=JSON)
    assert response.status_code == 200, response.text
    assert span_count(settings) == 1


async def test_gzip_bomb_is_413_and_nothing_is_stored(
    client: httpx.AsyncClient, settings: ServerSettings
) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)  # 64 MiB of zeros in ~64 KiB
    response = await client.post("/v1/traces", content=bomb, headers={**PROTOBUF, "content-encoding": "gzip"})
    assert response.status_code == 413
    assert span_count(settings) == 0


def test_gzip_bomb_costs_about_the_limit_in_memory() -> None:
    """Inflating stops at the limit and never copies: peak allocation is the limit plus a little."""
    limit = 4 * 1024 * 1024
    bomb = gzip.compress(b"\0" * (256 * 1024 * 1024), 9)
    tracemalloc.start()
    try:
        with pytest.raises(OtlpRequestError) as caught:
            decompress(bomb, "gzip", limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.status == 413
    # a bytearray grows by an eighth at a time, and zlib hands over one 64 KiB chunk
    assert peak < limit * 1.2 + 256 * 1024, peak


def test_a_body_at_the_limit_inflates_whole() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, not all zeros
    for coding, packed in (("gzip", gzip.compress(payload)), ("deflate", zlib.compress(payload))):
        assert decompress(packed, coding, len(payload)) == payload
        with pytest.raises(OtlpRequestError) as caught:
            decompress(packed, coding, len(payload) - 1)
        assert caught.value.status == 413
    two_members = gzip.compress(payload[:1000]) + gzip.compress(payload[1000:2000])
    assert decompress(two_members, "gzip", 2000) == payload[:2000]


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"\x00\x01garbage", PROTOBUF, 400),
        (b"{not json", JSON, 400),
        (b'"a string"', JSON, 400),
        (b'{"resourceSpans": 7}', JSON, 400),
        (gzip.compress(b"{}")[:-6], GZIP_JSON, 400),
        (b"not gzip at all", GZIP_JSON, 400),
        (b"{}", {**JSON, "content-encoding": "br"}, 415),
        (b"{}", {"content-type": "text/plain"}, 415),
        (b"{}", {}, 415),
    ],
)
async def test_malformed_bodies_are_4xx(
    client: httpx.AsyncClient, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = await client.post("/v1/traces", content=content, headers=headers)
    assert response.status_code == status, response.content


async def test_a_good_body_after_bad_ones_is_stored(
    client: httpx.AsyncClient, settings: ServerSettings
) -> None:
    for bad in _deep_bodies().values():
        assert (await client.post("/v1/traces", content=bad, headers=JSON)).status_code == 400
    spans = Spans()
    response = await client.post("/v1/traces", content=body(spans.span("ok", {})), headers=PROTOBUF)
    assert response.status_code == 200
    assert span_count(settings) == 1
    assert json.loads((await client.get("/healthz")).text)["status"] == "ok"


@pytest.mark.parametrize("kind", [{"arrayValue": {"values": []}}, {"kvlistValue": {"values": []}}])
async def test_a_span_kind_that_is_a_list_or_map_is_stored_as_a_plain_span(
    client: httpx.AsyncClient, settings: ServerSettings, kind: dict[str, object]
) -> None:
    """Found by the decoder fuzzing: an unhashable aither.span.kind was a TypeError, so a 500."""
    payload = (
        '{"resourceSpans":[{"scopeSpans":[{"spans":['
        + _span_head("5" * 32, "6" * 16)
        + '"attributes":[{"key":"aither.span.kind","value":'
        + json.dumps(kind)
        + "}]}]}]}]}"
    )
    response = await client.post("/v1/traces", content=payload.encode(), headers=JSON)
    assert response.status_code == 200, response.text
    assert span_count(settings) == 1
