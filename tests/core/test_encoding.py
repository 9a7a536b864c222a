"""aither's direct OTLP encoder decodes, with opentelemetry-proto, to exactly the message the
OpenTelemetry SDK's own encoder builds; and the exporter using it delivers to a real receiver."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from receiver import OTLPReceiver

from aither.export.encoding import EncodedRequest, SpanEncoder, varint
from aither.export.encoding_http import DirectOTLPSpanExporter


def _spans() -> list[ReadableSpan]:
    spans: list[ReadableSpan] = []
    resources = [
        Resource.create({"service.name": "a", "n": 3}),
        Resource({"service.name": "b", "flag": True}, schema_url="https://example.com/schema"),
    ]
    for resource in resources:
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(memory))
        for scope, version, schema in (("aither", "1.0", None), ("other", None, "https://example.com/s")):
            tracer = provider.get_tracer(scope, version, schema_url=schema, attributes={"scope.attr": "x"})
            attributes = {
                "s": "text",
                "empty": "",
                "unicode": "żółw 🐢",
                "long": "x" * 5000,
                "t": True,
                "f": False,
                "zero": 0,
                "neg": -7,
                "big": 2**62,
                "d": 2.5,
                "dz": 0.0,
                "strs": ["a", "b"],
                "ints": [1, -2],
                "floats": [0.5],
                "bools": [True, False],
            }
            with tracer.start_as_current_span("root", attributes=attributes, kind=SpanKind.SERVER) as root:
                root.set_status(Status(StatusCode.OK))
                with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
                    child.set_attribute("k", 1)
                    child.set_status(Status(StatusCode.ERROR, "ValueError: bad"))
                try:
                    with tracer.start_as_current_span("fails"):
                        raise ValueError("boom")
                except ValueError:
                    pass
            remote = SpanContext(
                trace_id=0x0123456789ABCDEF0123456789ABCDEF,
                span_id=0x0123456789ABCDEF,
                is_remote=True,
                trace_flags=TraceFlags(1),
                trace_state=TraceState([("vendor", "v1"), ("other", "o")]),
            )
            ctx = trace.set_span_in_context(trace.NonRecordingSpan(remote))
            tracer.start_span("remote child", context=ctx, kind=SpanKind.CONSUMER).end()
            link = Link(remote, {"why": "batch"})
            linked = tracer.start_span("linked", links=[link], kind=SpanKind.PRODUCER)
            linked.add_event("evt", {"n": 1})
            linked.end()
            tracer.start_span("plain", attributes={"only": 1}).end()
        spans.extend(memory.get_finished_spans())
        provider.shutdown()
    return spans


def test_the_direct_encoder_decodes_to_the_sdk_encoders_message() -> None:
    spans = _spans()
    assert len(spans) == 24
    ours = ExportTraceServiceRequest.FromString(SpanEncoder().request(spans))
    assert ours == encode_spans(spans)


def test_a_second_batch_through_the_same_encoder_reads_the_same() -> None:
    """Remembered attributes and headers give the same bytes as fresh ones."""
    spans = _spans()
    encoder = SpanEncoder()
    first = encoder.request(spans)
    assert encoder.request(spans) == first == SpanEncoder().request(spans)
    assert ExportTraceServiceRequest.FromString(encoder.request([])) == encode_spans([])


def test_varints() -> None:
    assert varint(0) == b"\x00" and varint(127) == b"\x7f" and varint(300) == b"\xac\x02"
    assert varint(-1) == b"\xff" * 9 + b"\x01"


def test_the_exporter_delivers_to_a_real_receiver() -> None:
    spans = _spans()
    with OTLPReceiver() as receiver:
        exporter = DirectOTLPSpanExporter(endpoint=receiver.endpoint)
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
        received = receiver.received()
    assert len(received) == len(spans)
    by_name = {s.name: s for s in received}
    assert by_name["root"].attributes["unicode"] == "żółw 🐢"
    assert by_name["root"].attributes["neg"] == -7 and by_name["root"].attributes["ints"] == [1, -2]
    assert by_name["linked"].events[0]["name"] == "evt"


def test_a_request_encoded_ahead_arrives_as_the_spans_would() -> None:
    """What the export queue holds while the receiver is down (an EncodedRequest, bytes) is
    sent as it is and decodes at a real receiver to the same spans as exporting them."""
    spans = _spans()
    encoded = EncodedRequest(SpanEncoder().request(spans), len(spans), 1000)
    assert len(encoded) == len(spans)
    with OTLPReceiver() as receiver:
        exporter = DirectOTLPSpanExporter(endpoint=receiver.endpoint)
        assert exporter.accepts_encoded()
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        direct = receiver.received()
        receiver.spans.clear()
        assert exporter.export(encoded) is SpanExportResult.SUCCESS  # type: ignore[arg-type]
        exporter.shutdown()
        ahead = receiver.received()
    assert len(direct) == len(spans)
    assert ahead == direct
