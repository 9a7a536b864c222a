"""OTLP/HTTP receiver conformance, replays, scopes and tenancy, against the app in process.

Conformance follows https://opentelemetry.io/docs/specs/otlp/#otlphttp: protobuf and JSON
bodies, gzip or not, the response in the request's encoding, failures as ``google.rpc.Status``,
and 415 for what the server does not read.
"""

from __future__ import annotations

import base64
import gzip
import json

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from aither.server import ServerSettings

from . import server_fixtures as fx
from .server_fixtures import JSON, PROTOBUF, Spans, body, request, span_count

client, settings, storage = fx.client, fx.settings, fx.storage


def _json_body(spans: Spans, count: int) -> bytes:
    message = request([spans.span(f"json {i}", {"i": i}) for i in range(count)])
    document = json_format.MessageToDict(message)
    for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:  # OTLP/JSON ids are hex
        for key in ("traceId", "spanId"):
            span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize(
    "content_type", ["application/x-protobuf", "application/protobuf", "application/json; charset=utf-8"]
)
async def test_every_encoding_is_stored_and_answered_in_kind(
    client: httpx.AsyncClient, settings: ServerSettings, content_type: str, gzipped: bool
) -> None:
    spans = Spans()
    payload = (
        _json_body(spans, 3) if "json" in content_type else body(*(spans.span(f"p{i}", {}) for i in range(3)))
    )
    headers = {"content-type": content_type}
    if gzipped:
        payload, headers = gzip.compress(payload), {**headers, "content-encoding": "gzip"}
    response = await client.post("/v1/traces", content=payload, headers=headers)
    assert response.status_code == 200, response.content
    assert span_count(settings) == 3
    if "json" in content_type:
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {}
    else:
        assert response.headers["content-type"] == "application/x-protobuf"
        ExportTraceServiceResponse.FromString(response.content)  # a valid, empty response


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"content-type": "text/plain"}, 415),
        ({"content-type": "application/xml"}, 415),
        ({}, 415),
        ({**PROTOBUF, "content-encoding": "zstd"}, 415),
        ({**PROTOBUF, "content-encoding": "gzip"}, 400),  # says gzip, is not
    ],
)
async def test_what_the_server_does_not_read_is_refused_with_a_status_body(
    client: httpx.AsyncClient, settings: ServerSettings, headers: dict[str, str], status: int
) -> None:
    spans = Spans()
    response = await client.post("/v1/traces", content=body(spans.span("x", {})), headers=headers)
    assert response.status_code == status
    # google.rpc.Status in protobuf: field 1 (code) then field 2 (message)
    assert response.content[:1] == b"\x08" and b"\x12" in response.content
    assert span_count(settings) == 0


async def test_json_errors_are_json_status_bodies(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/traces", content=b"{", headers=JSON)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"} and response.json()["code"] == 3


async def test_replays_are_stored_once(client: httpx.AsyncClient, settings: ServerSettings) -> None:
    spans = Spans()
    prediction = spans.prediction("fraud", [1, 0, 1])
    payload = body(prediction, spans.span("child", {}))
    for _ in range(3):
        assert (await client.post("/v1/traces", content=payload, headers=PROTOBUF)).status_code == 200
    assert span_count(settings) == 2
    predictions = (await client.get("/api/v1/predictions")).json()["items"]
    assert len(predictions) == 1
    # a replay mixed with new spans stores only the new ones
    mixed = body(prediction, spans.span("new", {}))
    assert (await client.post("/v1/traces", content=mixed, headers=PROTOBUF)).status_code == 200
    assert span_count(settings) == 3


async def _key(client: httpx.AsyncClient, *scopes: str) -> dict[str, str]:
    created = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": list(scopes)})
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['secret']}"}


async def test_scopes_are_enforced_on_every_kind_of_route(client: httpx.AsyncClient) -> None:
    read, write = await _key(client, "read"), await _key(client, "write")
    spans = Spans()
    payload = body(spans.span("s", {}))
    assert (await client.post("/v1/traces", content=payload, headers={**PROTOBUF, **read})).status_code == 403
    assert (
        await client.post("/v1/traces", content=payload, headers={**PROTOBUF, **write})
    ).status_code == 200
    assert (await client.get("/api/v1/predictions", headers=write)).status_code == 403
    assert (await client.get("/api/v1/predictions", headers=read)).status_code == 200
    assert (await client.get("/api/v1/users", headers=read)).status_code == 403
    escalate = await client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["admin"]}, headers=read)
    assert escalate.status_code == 403


async def test_an_organisation_never_sees_anothers_data(
    client: httpx.AsyncClient, settings: ServerSettings, storage: fx.Storage
) -> None:
    other = await fx.other_organisation(storage)
    spans = Spans()
    prediction = spans.prediction("fraud", [1, 0])
    trace_id = prediction.trace_id.hex()
    assert (await client.post("/v1/traces", content=body(prediction), headers=PROTOBUF)).status_code == 200
    mine = await client.get(f"/api/v1/traces/{trace_id}")
    assert mine.status_code == 200
    key_id = (await client.get("/api/v1/api-keys")).json()[0]["id"]

    assert (await client.get(f"/api/v1/traces/{trace_id}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/predictions", headers=other)).json()["items"] == []
    assert (await client.get("/api/v1/models", headers=other)).json() == []
    assert (await client.get("/api/v1/models/fraud/metrics", headers=other)).status_code == 404
    assert key_id not in {k["id"] for k in (await client.get("/api/v1/api-keys", headers=other)).json()}
    assert (await client.delete(f"/api/v1/api-keys/{key_id}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/org")).status_code == 200  # the key B tried to revoke still works
    # the same span sent by the other organisation is its own, not a replay of ours
    assert (
        await client.post("/v1/traces", content=body(prediction), headers={**PROTOBUF, **other})
    ).status_code == 200
    assert span_count(settings) == 2
