"""Spans from outside aither reach the real server: the plain OpenTelemetry exporter (as an
OpenTelemetry Collector's otlphttp exporter sends them: protobuf, gzip), OTLP/JSON, and many
clients at once."""

from __future__ import annotations

import gzip
import json
import os
import threading

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from aither.schema import semconv as sc


def _provider(
    base_url: str, key: str, compression: Compression = Compression.NoCompression
) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "plain-otel"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{base_url}/v1/traces", headers={"Authorization": f"Bearer {key}"}, compression=compression
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_plain_opentelemetry_exporter_spans_are_stored(server, api, compression) -> None:  # type: ignore[no-untyped-def]
    provider = _provider(server.base_url, server.api_key, compression=compression)
    tracer = provider.get_tracer("plain")
    with tracer.start_as_current_span("GET /checkout") as root:
        root.set_attribute("http.route", "/checkout")
        trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:  # OpenLLMetry-style: no aither kind
            llm.set_attributes(
                {
                    sc.GEN_AI_OPERATION_NAME: "chat",
                    sc.GEN_AI_PROVIDER_NAME: "openai",
                    sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                    sc.GEN_AI_USAGE_INPUT_TOKENS: 21,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                }
            )
        with tracer.start_as_current_span("predict churn") as prediction:  # aither's schema, by hand
            prediction.set_attributes(
                {
                    sc.AITHER_SPAN_KIND: sc.SPAN_KIND_PREDICTION,
                    sc.ML_MODEL_NAME: "churn",
                    sc.ML_PREDICTION: json.dumps({"sample": [1, 0], "_meta": {"rows": 2}}),
                }
            )
    assert provider.force_flush(10_000)
    provider.shutdown()
    trace = api.traces.get(trace_id)
    assert sorted(span["name"] for span in trace.spans) == [
        "GET /checkout",
        "chat gpt-4o-mini",
        "predict churn",
    ]
    root_span = next(span for span in trace.spans if span["name"] == "GET /checkout")
    assert root_span["attributes"] == {"http.route": "/checkout"}
    assert root_span["service_name"] == "plain-otel"
    assert [(c.request_model, c.input_tokens, c.output_tokens) for c in trace.llm_calls] == [
        ("gpt-4o-mini", 21, 5)
    ]
    (listed,) = api.llm_calls.list(provider="openai").items
    assert listed == trace.llm_calls[0]
    assert (listed.trace_id, listed.operation, listed.pii_detected, listed.status) == (
        trace_id,
        "chat",
        None,
        "ok",
    )
    assert api.llm_calls.list(pii=True).items == ()
    assert [(p.model_name, p.output_rows) for p in trace.predictions] == [("churn", 2)]
    assert api.org.usage().llm_calls == 1


def test_plain_exporter_with_a_wrong_key_stores_nothing(server, api) -> None:  # type: ignore[no-untyped-def]
    provider = _provider(server.base_url, "aith_wrong_key_00000000000")
    with provider.get_tracer("plain").start_as_current_span("refused"):
        pass
    provider.force_flush(10_000)  # the exporter logs the 401 and gives up (it is not retryable)
    provider.shutdown()
    assert api.org.usage().spans == 0


@pytest.mark.parametrize("gzipped", [False, True])
def test_otlp_json_over_http(server, api, gzipped: bool) -> None:  # type: ignore[no-untyped-def]
    """What a Collector's otlphttp exporter sends with ``encoding: json`` (and ``compression: gzip``)."""
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-sender"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": "predict fraud",
                                "kind": 1,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000005000000",
                                "attributes": [
                                    {"key": sc.AITHER_SPAN_KIND, "value": {"stringValue": "prediction"}},
                                    {"key": sc.ML_MODEL_NAME, "value": {"stringValue": "fraud"}},
                                    {"key": sc.ML_OUTPUT_ROWS, "value": {"intValue": "1"}},
                                    {"key": sc.ML_PREDICTION, "value": {"stringValue": '{"sample": [1]}'}},
                                ],
                                "status": {"code": 0},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    content = json.dumps(document).encode()
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        content = gzip.compress(content)
    for _ in range(2):  # the second time is a replay
        response = httpx.post(f"{server.base_url}/v1/traces", content=content, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {}  # an ExportTraceServiceResponse without partial_success
    assert api.org.usage().spans == 1
    (prediction,) = api.traces.get(trace_id).predictions
    assert (prediction.span_id, prediction.model_name, prediction.latency_ms) == (span_id, "fraud", 5.0)


def test_many_clients_at_once(server, api) -> None:  # type: ignore[no-untyped-def]
    """Eight threads export and query at the same time over real HTTP: no error, nothing lost."""
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            provider = _provider(server.base_url, server.api_key)
            tracer = provider.get_tracer("burst")
            for step in range(50):
                with tracer.start_as_current_span(f"predict m{index % 2}") as span:
                    span.set_attributes(
                        {
                            sc.AITHER_SPAN_KIND: sc.SPAN_KIND_PREDICTION,
                            sc.ML_MODEL_NAME: f"m{index % 2}",
                            sc.ML_PREDICTION: json.dumps({"sample": [step % 2]}),
                        }
                    )
                if step % 10 == 0:
                    provider.force_flush(10_000)
                    api.models.list()
            assert provider.force_flush(10_000)
            provider.shutdown()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert {model.name: model.predictions for model in api.models.list()} == {"m0": 200, "m1": 200}
    assert api.org.usage().spans == 400
