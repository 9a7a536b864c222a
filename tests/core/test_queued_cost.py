"""What a queued span costs: the objects the garbage collector walks while it waits, and the
attributes written on the caller's thread, which must read exactly as the export thread's."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from receiver import OTLPReceiver

import aither
from aither.sampling import sample
from aither.sampling.encoder import dumps, encode_now, encode_plain
from aither.sampling.limits import SampleLimits
from aither.sampling.model import OutputSample

np = pytest.importorskip("numpy")  # the core session runs without numpy

SPANS = 400


def _tracked_per_call(call: Callable[[], Any], settle: Callable[[], object] = lambda: None) -> float:
    """GC-tracked objects kept per call, once ``settle`` (the export thread's catching up) ran."""
    for _ in range(5):
        call()
    settle()
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(SPANS):
        call()
    settle()
    gc.collect()
    return (len(gc.get_objects()) - before) / SPANS


class Model:
    def predict(self, X: Any) -> Any:
        return X[:, 0]


def test_a_queued_prediction_keeps_a_tenth_of_the_objects_of_a_hand_written_span() -> None:
    """With the receiver not answering, spans stay queued; the SDK's own queue keeps each as a
    ReadableSpan (11 GC-tracked objects), aither's as part of an encoded request."""
    X = np.zeros((1, 4))
    model = Model()
    gate = threading.Event()
    with OTLPReceiver(hold=gate) as held:
        client = aither.Client(api_key="k", base_url=held.base_url, batch_size=SPANS * 4)
        assert client._runtime is not None and client._runtime.processor is not None
        processor = client._runtime.processor
        tracked = client.wrap(model, name="m")
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=held.endpoint),
                max_queue_size=SPANS * 4,
                max_export_batch_size=SPANS * 4,
            )
        )
        tracer = provider.get_tracer("hand")

        def hand() -> Any:
            with tracer.start_as_current_span("predict m", attributes={"ml.model.name": "m"}) as span:
                y = model.predict(X)
                span.set_attribute("ml.features", '{"sample": [[0.0, 0.0, 0.0, 0.0]]}')
                span.set_attribute("ml.prediction", '{"sample": [0.0]}')
                return y

        try:
            # The hand-written spans first: aither's export thread must not free objects
            # while they are counted. ``force_flush(0)`` encodes what aither's export thread
            # has not taken yet (the batch is larger than what is queued), sends nothing.
            theirs = _tracked_per_call(hand)
            ours = _tracked_per_call(lambda: tracked.predict(X), lambda: processor.force_flush(0))
            assert client.stats().queued == SPANS + 5  # they were queued while counted
        finally:
            gate.set()
        assert ours <= theirs / 10, (ours, theirs)
        assert client.flush(30)
        client.close()
        provider.shutdown()
    spans = held.received()
    assert len([s for s in spans if s.scope == "aither"]) == SPANS + 5
    assert spans[0].attributes["ml.features"].startswith('{"sample":')


def test_a_queued_prediction_is_bytes_to_the_garbage_collector() -> None:
    """With the receiver not answering, the export thread still encodes each batch as it is
    taken: what waits is an encoded request, ~0 GC-tracked objects a span (a ReadableSpan
    keeps 11), and nothing is lost once the receiver answers."""
    X = np.zeros((1, 4))
    model = Model()
    gate = threading.Event()
    with OTLPReceiver(hold=gate) as held:
        client = aither.Client(api_key="k", base_url=held.base_url, batch_size=50, flush_interval=30)
        assert client._runtime is not None and client._runtime.processor is not None
        processor = client._runtime.processor
        tracked = client.wrap(model, name="m")
        try:
            for _ in range(5):
                tracked.predict(X)
            processor.force_flush(0)  # the first request now waits in the receiver
            gc.collect()
            before = len(gc.get_objects())
            for _ in range(SPANS):
                tracked.predict(X)
            # Encodes what the export thread has not taken yet; nothing can be sent.
            assert not processor.force_flush(0)
            gc.collect()
            per_span = (len(gc.get_objects()) - before) / SPANS
            stats = client.stats()
            assert stats.queued == SPANS + 5
            assert processor.exporter.encoded_spans == stats.queued  # every queued span is bytes
        finally:
            gate.set()
        assert per_span < 0.5, per_span
        assert client.flush(30)
        stats = client.stats()
        assert (stats.exported, stats.queued, stats.queued_bytes, stats.failed) == (SPANS + 5, 0, 0, 0)
        client.close()
    spans = held.received()
    assert len(spans) == SPANS + 5
    assert len({s.span_id for s in spans}) == SPANS + 5
    assert all(s.attributes["ml.model.name"] == "m" and s.scope == "aither" for s in spans)
    assert spans[-1].attributes["ml.features"].startswith('{"sample":')


def test_encoded_spans_still_count_against_the_queue_bound() -> None:
    """A span encoded ahead is queued until the receiver has it: the span bound (and the
    ledger) see it as before, and the spans past the bound are dropped and counted."""
    X = np.zeros((1, 4))
    gate = threading.Event()
    with OTLPReceiver(hold=gate) as held:
        client = aither.Client(api_key="k", base_url=held.base_url, batch_size=10, max_queue_size=40)
        assert client._runtime is not None and client._runtime.processor is not None
        processor = client._runtime.processor
        tracked = client.wrap(Model(), name="m")
        try:
            for _ in range(60):
                tracked.predict(X)
            assert not processor.force_flush(0)
            stats = client.stats()
            assert (stats.created, stats.queued, stats.dropped) == (60, 40, 20)
            assert processor.exporter.encoded_spans == 40
        finally:
            gate.set()
        assert client.flush(30)
        stats = client.stats()
        assert stats.created == stats.exported + stats.dropped + stats.failed + stats.queued
        assert (stats.exported, stats.dropped) == (40, 20)
        client.close()
    assert len(held.received()) == 40


LIMITS = SampleLimits()


@pytest.mark.parametrize(
    "value",
    [
        np.zeros((1, 4)),
        np.arange(12, dtype=np.int32).reshape(3, 4),
        np.array([True, False]),
        np.float32([0.25, 1.5]),
        np.array(3.5),
        np.zeros((2, 3, 2), dtype=np.uint8),
        7,
        "text",
        None,
        1.25,
        [1, "a", None, 2.5],
    ],
)
def test_what_the_caller_writes_is_what_the_export_thread_would(value: Any) -> None:
    s = sample(value, LIMITS.rows, LIMITS.columns, LIMITS)
    text = encode_now(s.data, s.meta)
    assert text is not None
    assert text == dumps(s)
    out = sample(value, LIMITS.prediction_rows, 100, LIMITS)
    assert encode_now(out.data, out.meta, 1000) == dumps(OutputSample(out.data, out.meta, out.approx_bytes))


@pytest.mark.parametrize(
    "value",
    [
        np.array([1.0, float("nan")]),  # NaN reads "NaN", as the export thread writes it
        np.array(["a", "b"]),
        np.array([1, "b"], dtype=object),
        float("inf"),
        [1, [2]],
        [1.0, float("nan")],
        {"a": 1},
    ],
)
def test_what_the_caller_cannot_write_cheaply_waits_for_export(value: Any) -> None:
    s = sample(value, LIMITS.rows, LIMITS.columns, LIMITS)
    assert encode_now(s.data, s.meta) is None


def test_an_output_past_the_json_rows_waits_for_its_binary_rest() -> None:
    out = sample(np.zeros(1500, dtype=np.int8), 2000, 100, SampleLimits(prediction_rows=2000))
    assert encode_now(out.data, out.meta, 1000) is None
    assert '"rest"' in dumps(OutputSample(out.data, out.meta, out.approx_bytes))


@pytest.mark.parametrize(
    "value",
    [
        {"n": 1, "answer": "YES", "scores": [0.5, 1.0], "ok": True, "none": None},
        [1, "two", [3, {"four": 4.0}]],
        "żółw",
        -3,
    ],
)
def test_a_plain_value_written_now_reads_as_the_export_thread_writes_it(value: Any) -> None:
    assert encode_plain(value) == dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"x": float("nan")},
        {1: "int key"},
        (1, 2),
        {"arr": np.zeros(2)},
        "\ud800",  # a lone surrogate: the export thread escapes it
        list(range(1000)),  # past the budget of nodes read on the caller
    ],
)
def test_a_value_that_is_not_plain_waits_for_export(value: Any) -> None:
    assert encode_plain(value) is None
    assert isinstance(dumps(value), str)


def test_a_tracked_functions_small_input_and_output_arrive_as_json(receiver: OTLPReceiver) -> None:
    client = aither.Client(api_key="k", base_url=receiver.base_url)

    @client.track("answer")
    def answer(n: int, query: str) -> dict[str, Any]:
        return {"n": n, "answer": query.upper(), "obj": object.__name__}

    assert answer(1, "why") == {"n": 1, "answer": "WHY", "obj": "object"}
    assert client.flush(10)
    (span,) = receiver.received()
    assert span.attributes["aither.input"] == '{"n":1,"query":"why"}'
    assert span.attributes["aither.output"] == '{"n":1,"answer":"WHY","obj":"object"}'
    client.close()
