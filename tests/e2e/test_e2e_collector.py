"""Spans through a real OpenTelemetry Collector: the plain OpenTelemetry exporter sends to the
Collector's OTLP/HTTP receiver, and its ``otlphttp`` exporter forwards to the aither server,
as protobuf and as JSON, gzip-compressed.

The same test runs through two collectors:

- Rotel (the ``collector`` extra: PyPI ships its ``rotel-agent`` binary), forwarding protobuf,
  gzip-compressed; it always runs where the extra is installed, as in CI;
- the OpenTelemetry Collector, forwarding protobuf and JSON. It needs an ``otelcol-contrib``
  (or ``otelcol``) binary: on ``PATH``, or named by ``OTELCOL_BINARY`` (not an ``AITHER_*``
  name: the test session clears those). Those variants are skipped, saying so, where there is
  none: none of the registries this project installs from (PyPI, Debian, npm) ships it.
  ``test_e2e_otlp.py`` sends what its ``otlphttp`` exporter sends (protobuf or JSON, gzip).

``test_e2e_rotel.py`` sends the aither SDK's own spans through Rotel.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from test_e2e_rotel import Collector as Rotel
from watched import WatchedProcess

from aither.schema import semconv as sc


def _collector_binary() -> str:
    named = os.environ.get("OTELCOL_BINARY")
    if named:
        if not os.access(named, os.X_OK):
            pytest.fail(f"OTELCOL_BINARY={named!r} is not an executable file")
        return named
    found = shutil.which("otelcol-contrib") or shutil.which("otelcol")
    if found is None:
        pytest.skip("no OpenTelemetry Collector binary (otelcol-contrib/otelcol on PATH or OTELCOL_BINARY)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


READY = "Everything is ready. Begin running and processing data."
"""What the Collector logs once its pipelines run."""


@dataclass
class Running:
    """A collector forwarding to the server: the port of its OTLP/HTTP receiver; ``stop`` drains
    its exporter's queue into the server (the collector's own flush); ``output`` is its log."""

    port: int
    stop: Callable[[], object]
    output: Callable[[], str]


@pytest.fixture
def collector(server, tmp_path: Path, request) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    """``request.param``: ``rotel`` or ``otelcol-proto`` / ``otelcol-json`` (the encoding the
    OpenTelemetry Collector's ``otlphttp`` exporter forwards in)."""
    kind, _, encoding = request.param.partition("-")
    if kind == "rotel":
        rotel = Rotel(tmp_path, server.base_url, server.api_key)
        try:
            yield Running(rotel.http_port, rotel.stop, rotel.process.output)
        finally:
            if rotel.process.process.poll() is None:
                rotel.process.stop()
        return
    binary = _collector_binary()
    port = _free_port()
    config = {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{port}"}}}},
        "exporters": {
            "otlphttp": {
                "endpoint": server.base_url,
                "headers": {"Authorization": f"Bearer {server.api_key}"},
                "encoding": encoding,
                "compression": "gzip",
            }
        },
        "service": {
            "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlphttp"]}},
            "telemetry": {"metrics": {"level": "none"}},
        },
    }
    path = tmp_path / "collector.json"  # YAML is a superset of JSON
    path.write_text(json.dumps(config))
    running = WatchedProcess([binary, f"--config={path}"], ready=READY)
    try:
        running.wait_ready(30)
        yield Running(port, running.stop, running.output)
    finally:
        running.stop()


@pytest.mark.parametrize("collector", ["rotel", "otelcol-proto", "otelcol-json"], indirect=True)
def test_spans_through_an_opentelemetry_collector_are_stored(collector: Running, api) -> None:  # type: ignore[no-untyped-def]
    running, port = collector, collector.port
    provider = TracerProvider(resource=Resource.create({"service.name": "behind-a-collector"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"))
    )
    tracer = provider.get_tracer("collector-test")
    with tracer.start_as_current_span("POST /score") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("predict churn") as prediction:
            prediction.set_attributes(
                {
                    sc.AITHER_SPAN_KIND: sc.SPAN_KIND_PREDICTION,
                    sc.ML_MODEL_NAME: "churn",
                    sc.ML_PREDICTION: json.dumps({"sample": [1, 0, 1], "_meta": {"rows": 3}}),
                }
            )
        with tracer.start_as_current_span("label churn") as label:
            label.set_attributes(
                {
                    sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LABEL,
                    sc.ML_MODEL_NAME: "churn",
                    sc.ML_LABEL: json.dumps([1, 1, 1]),
                    sc.ML_LABEL_BATCH: True,
                }
            )
    provider.shutdown()  # the exporter is synchronous: the Collector has accepted all 3 spans
    running.stop()  # and shutting down drains its exporter's queue into the server
    assert api.org.usage().spans == 3, running.output()[-2000:]
    trace = api.traces.get(trace_id)
    assert sorted(span["name"] for span in trace.spans) == ["POST /score", "label churn", "predict churn"]
    assert {span["service_name"] for span in trace.spans} == {"behind-a-collector"}
    (stored,) = trace.predictions
    assert (stored.model_name, stored.output_rows, stored.labelled_rows) == ("churn", 3, 3)
    (version,) = api.models.metrics("churn").versions
    assert version.classification is not None
    assert version.classification.accuracy == pytest.approx(2 / 3)
