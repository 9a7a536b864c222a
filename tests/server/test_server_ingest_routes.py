"""POST /v1/traces in-process: every status, and stored data intact after each bad request."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time

import httpx
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from otlp_builder import JSON, PROTOBUF, Spans, body, ids, request

from aither.schema import semconv as sc
from aither.server import create_app
from aither.server.bootstrap import bootstrap
from aither.server.storage import Storage, WriterLimits
from aither.server.storage.writer import CallableJob


async def _seed(send, spans: Spans) -> dict[str, int]:  # type: ignore[no-untyped-def]
    trace_id, _ = ids(first := spans.prediction("fraud", [1, 0]))
    await send(first, spans.label(trace_id, [1, 1], model="fraud"), spans.span("plain", {"k": 1}))
    return {"spans": 3, "predictions": 1, "labels": 1, "label_rows": 2, "llm_calls": 0, "operations": 0}


async def test_protobuf_export_is_stored_and_answered_in_protobuf(client, spans, counts) -> None:
    response = await client.post("/v1/traces", content=body(spans.prediction("fraud", [1])), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    assert counts()["predictions"] == 1


async def test_json_export_is_stored_and_answered_in_json(client, spans, counts) -> None:
    message = request([spans.prediction("fraud", [1, 0, 1])])
    document = json_format.MessageToDict(message)
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    original = message.resource_spans[0].scope_spans[0].spans[0]
    span["traceId"], span["spanId"] = original.trace_id.hex(), original.span_id.hex()
    response = await client.post("/v1/traces", content=json.dumps(document), headers=JSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    predictions = (await client.get("/api/v1/predictions")).json()["items"]
    assert [(p["trace_id"], p["span_id"], p["output_rows"]) for p in predictions] == [
        (original.trace_id.hex(), original.span_id.hex(), 3)
    ]


async def test_gzip_export(client, spans, counts) -> None:
    payload = gzip.compress(body(spans.prediction("fraud", [1]), spans.span("x", {})))
    response = await client.post(
        "/v1/traces", content=payload, headers={**PROTOBUF, "content-encoding": "gzip"}
    )
    assert response.status_code == 200
    assert counts()["spans"] == 2


async def test_replayed_export_is_stored_once(client, send, spans, counts) -> None:
    prediction = spans.prediction("fraud", [1, 0])
    trace_id, _ = ids(prediction)
    payload = body(prediction, spans.label(trace_id, [1, 0]))
    for _ in range(3):
        response = await client.post("/v1/traces", content=payload, headers=PROTOBUF)
        assert response.status_code == 200
    assert counts() == {
        "spans": 2,
        "predictions": 1,
        "labels": 1,
        "label_rows": 2,
        "llm_calls": 0,
        "operations": 0,
    }
    usage = (await client.get("/api/v1/org/usage")).json()
    assert (usage["spans"], usage["predictions"], usage["labels"], usage["prediction_rows"]) == (2, 1, 1, 2)


async def test_bad_ids_are_rejected_in_partial_success(client, spans, counts) -> None:
    bad = spans.span("bad", {})
    bad.trace_id = b"short"
    unknown = spans.span("odd", {"aither.span.kind": "mystery"})
    late = spans.span("far future", {})  # a uint64 time past what the (signed) columns hold
    late.end_time_unix_nano = 2**64 - 1
    huge = spans.span(  # counts past 32 bits are dropped, the span kept
        "chat big", {sc.GEN_AI_REQUEST_MODEL: "m", sc.GEN_AI_USAGE_INPUT_TOKENS: 2**40}
    )
    response = await client.post(
        "/v1/traces", content=body(spans.span("good", {}), bad, unknown, late, huge), headers=PROTOBUF
    )
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    assert "2 spans had no valid trace id, span id or time" in partial.error_message
    assert "past the year 2262" in partial.error_message
    assert "mystery" in partial.error_message
    assert counts()["spans"] == 3
    (call,) = (await client.get("/api/v1/llm-calls")).json()["items"]
    assert (call["request_model"], call["input_tokens"]) == ("m", None)


async def test_missing_wrong_and_malformed_keys_are_401(app, send, spans, counts) -> None:
    expected = await _seed(send, spans)
    payload = body(spans.prediction("intruder", [1]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://aither.test") as anonymous:
        for headers in (
            {},
            {"Authorization": "Bearer aith_wrong"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "Bearer"},
        ):
            response = await anonymous.post("/v1/traces", content=payload, headers={**PROTOBUF, **headers})
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"] == "Bearer"
            status = status_pb2.Status.FromString(response.content)
            assert status.code == 16
            assert status.message
            response = await anonymous.post("/v1/traces", content=b"{}", headers={**JSON, **headers})
            assert response.status_code == 401
            assert response.json()["code"] == 16
    assert counts() == expected


async def test_key_without_write_scope_is_403_and_revoked_key_401_at_once(
    client, app, send, spans, make_key, counts
) -> None:
    expected = await _seed(send, spans)
    reader = await make_key("read")
    writer = await make_key("write")
    payload = body(spans.prediction("fraud", [1]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://aither.test"
    ) as other:
        response = await other.post(
            "/v1/traces", content=payload, headers={**PROTOBUF, "Authorization": f"Bearer {reader}"}
        )
        assert response.status_code == 403
        assert "lacks the 'write' scope" in status_pb2.Status.FromString(response.content).message
        assert counts() == expected
        response = await other.post(
            "/v1/traces", content=payload, headers={**PROTOBUF, "Authorization": f"Bearer {writer}"}
        )
        assert response.status_code == 200
        expected["spans"] += 1
        expected["predictions"] += 1
        key_id = next(
            k["id"] for k in (await client.get("/api/v1/api-keys")).json() if k["tail"] == writer[-4:]
        )
        assert (await client.delete(f"/api/v1/api-keys/{key_id}")).status_code == 200
        again = body(spans.prediction("fraud", [1]))
        response = await other.post(
            "/v1/traces", content=again, headers={**PROTOBUF, "Authorization": f"Bearer {writer}"}
        )
        assert response.status_code == 401
        assert "revoked" in status_pb2.Status.FromString(response.content).message
    assert counts() == expected


async def test_malformed_bodies_are_refused_and_nothing_changes(client, send, spans, counts) -> None:
    expected = await _seed(send, spans)
    good = body(spans.prediction("fraud", [1, 0, 1, 1]))
    cases = [
        (b"this is not a protobuf message at all \xff\xff\xff", PROTOBUF, 400),
        (good[: len(good) // 2], PROTOBUF, 400),
        (good, {"content-type": "text/plain"}, 415),
        (good, {}, 415),
        (b"{garbage", JSON, 400),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 7}]}]}]}', JSON, 400),
        (b"\x1f\x8b\x08 not really gzip", {**PROTOBUF, "content-encoding": "gzip"}, 400),
        (gzip.compress(good)[:-8], {**PROTOBUF, "content-encoding": "gzip"}, 400),
        (good, {**PROTOBUF, "content-encoding": "zstd"}, 415),
    ]
    for payload, headers, status in cases:
        response = await client.post("/v1/traces", content=payload, headers=headers)
        assert response.status_code == status, (payload[:40], headers, response.content)
        assert response.content  # every refusal says why
    assert counts() == expected


async def test_huge_and_gzip_bomb_bodies_are_413(client, send, spans, settings, counts) -> None:
    expected = await _seed(send, spans)
    limit = settings.max_body_bytes
    huge = b"\x00" * (limit + 1)
    response = await client.post("/v1/traces", content=huge, headers=PROTOBUF)
    assert response.status_code == 413
    bomb = gzip.compress(bytes(limit * 4))
    assert len(bomb) < limit // 10
    response = await client.post("/v1/traces", content=bomb, headers={**PROTOBUF, "content-encoding": "gzip"})
    assert response.status_code == 413
    assert "once decompressed" in status_pb2.Status.FromString(response.content).message

    async def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(limit // 65536 + 2):
            yield bytes(65536)

    response = await client.post("/v1/traces", content=chunks(), headers=PROTOBUF)
    assert response.status_code == 413
    assert counts() == expected


async def test_full_write_queue_answers_503_and_loses_nothing(settings, spans, counts) -> None:

    storage = Storage.open(settings.database_url, limits=WriterLimits(max_queued=1))
    bootstrap(storage, settings)
    release = threading.Event()
    started = threading.Event()

    def hold(_connection) -> None:  # type: ignore[no-untyped-def]
        started.set()
        release.wait(10)

    blocked = storage.writer.submit(CallableJob(hold))
    assert started.wait(5)
    app = create_app(settings, storage)
    headers = {**PROTOBUF, "Authorization": f"Bearer {settings.init_api_key}"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://aither.test"
        ) as http:
            queued = asyncio.ensure_future(
                http.post("/v1/traces", content=body(spans.span("first", {})), headers=headers)
            )
            deadline = time.monotonic() + 10
            while storage.writer.queued_weight == 0:  # wait until the first export is queued
                assert time.monotonic() < deadline, "the first export was never queued"
                await asyncio.sleep(0.001)
            refused = await http.post("/v1/traces", content=body(spans.span("second", {})), headers=headers)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert "queue is full" in status_pb2.Status.FromString(refused.content).message
            release.set()
            assert (await queued).status_code == 200
            blocked.result(5)
            retried = await http.post("/v1/traces", content=body(spans.span("second", {})), headers=headers)
            assert retried.status_code == 200
    finally:
        release.set()
        storage.close()
    assert counts()["spans"] == 2
