"""Property-based fuzzing of the OTLP decoder (Hypothesis, bounded examples).

Whatever the body, decoding it either gives rows or raises the decoder's own error
(:class:`OtlpRequestError`, which the route answers with its 4xx); never anything else, which
would be a 500. Bodies are random bytes, mutated valid protobuf and JSON, and valid requests
whose aither and GenAI attributes hold values of every type.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from aither.schema import semconv as sc
from aither.server.ingest.decode import decode_export_request
from aither.server.ingest.otlp import Encoding, OtlpRequestError, parse_request
from aither.server.ingest.records import DecodedBatch

from .server_fixtures import Spans, body, request

# bounded for the default run; FUZZ_EXAMPLES=2000 for a deeper search by hand
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# every attribute name of aither's span schema, so typed decoding meets values of every type
KEYS = sorted(
    value for name, value in vars(sc).items() if name.isupper() and isinstance(value, str) and "." in value
)


def decode(payload: bytes, encoding: Encoding) -> DecodedBatch | None:
    """The route's decoding step; None when the decoder refused the body (its own error)."""
    try:
        return decode_export_request(parse_request(payload, encoding))
    except OtlpRequestError as error:
        if not 400 <= error.status < 500:
            raise AssertionError(f"the decoder's error carries status {error.status}") from error
        return None


def _valid_spans() -> list[Span]:
    spans = Spans()
    prediction = spans.prediction("fraud", [1, 0, 1], features=[[1.0, 2.0]] * 3)
    trace_id = prediction.trace_id.hex()
    return [
        prediction,
        spans.label(trace_id, [1, 1, 0], model="fraud", row_indices=[0, 1, 2]),
        spans.span(
            "chat",
            {
                sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LLM,
                sc.GEN_AI_REQUEST_MODEL: "gpt",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 12,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
            },
            error="boom",
        ),
    ]


VALID_PROTOBUF = body(*_valid_spans())
VALID_JSON = json.dumps(
    {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "n",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000100000000",
                                "attributes": [
                                    {"key": sc.AITHER_SPAN_KIND, "value": {"stringValue": "prediction"}},
                                    {"key": sc.ML_MODEL_NAME, "value": {"stringValue": "m"}},
                                    {"key": sc.ML_PREDICTION, "value": {"stringValue": "[1, 0]"}},
                                ],
                                "status": {"code": 2, "message": "x"},
                            }
                        ]
                    }
                ]
            }
        ]
    }
).encode()


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few bytes flipped, dropped, inserted or the end cut off."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(("flip", "drop", "insert", "truncate")))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "drop":
            del data[position]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position:]
    return bytes(data)


@given(payload=st.binary(max_size=512))
@FUZZ
def test_random_bytes(payload: bytes) -> None:
    decode(payload, Encoding.PROTOBUF)
    decode(payload, Encoding.JSON)


@given(payload=mutated(VALID_PROTOBUF))
@FUZZ
def test_mutated_protobuf(payload: bytes) -> None:
    decode(payload, Encoding.PROTOBUF)


@given(payload=mutated(VALID_JSON))
@FUZZ
def test_mutated_json(payload: bytes) -> None:
    decode(payload, Encoding.JSON)


def _any_value_json() -> st.SearchStrategy[dict[str, Any]]:
    """OTLP/JSON AnyValues of every kind, nested a little."""
    leaves = st.one_of(
        st.builds(lambda v: {"stringValue": v}, st.text(max_size=40)),
        st.builds(lambda v: {"stringValue": v}, st.sampled_from(["[1, 0]", '{"sample": [1]}', "NaN", "-1"])),
        st.builds(lambda v: {"intValue": str(v)}, st.integers(-(2**63), 2**63 - 1)),
        st.builds(lambda v: {"doubleValue": v}, st.floats(allow_nan=False, allow_infinity=False)),
        st.builds(lambda v: {"doubleValue": v}, st.sampled_from(["NaN", "Infinity", "-Infinity"])),
        st.builds(lambda v: {"boolValue": v}, st.booleans()),
        st.builds(lambda v: {"bytesValue": base64.b64encode(v).decode()}, st.binary(max_size=16)),
        st.just({}),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=4)),
            st.builds(
                lambda kvs: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in kvs]}},
                st.lists(st.tuples(st.text(max_size=8), inner), max_size=4),
            ),
        ),
        max_leaves=12,
    )


ANY_VALUE = _any_value_json()  # built once: building a recursive strategy per draw is slow


@st.composite
def typed_spans(draw: st.DrawFn) -> bytes:
    """A valid request whose span carries aither/GenAI attributes with values of any type."""
    names = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=12, unique=True))
    kind = draw(
        st.sampled_from([sc.SPAN_KIND_PREDICTION, sc.SPAN_KIND_LABEL, sc.SPAN_KIND_LLM, "event", "x"])
    )
    attributes = [{"key": sc.AITHER_SPAN_KIND, "value": {"stringValue": kind}}]
    attributes += [{"key": name, "value": draw(ANY_VALUE)} for name in names]
    start = draw(st.integers(0, 2**64 - 1))
    span = {
        "traceId": draw(st.sampled_from(["5b8efff798038103d269b633813fc60c", "", "00" * 16, "zz"])),
        "spanId": draw(st.sampled_from(["eee19b7ec3c1b174", "", "00" * 8])),
        "name": draw(st.text(max_size=20)),
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(draw(st.integers(0, 2**64 - 1))),
        "attributes": attributes,
        "events": [{"name": "exception", "timeUnixNano": str(start), "attributes": attributes[1:3]}],
        "status": {"code": draw(st.integers(0, 2)), "message": draw(st.text(max_size=10))},
    }
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


@pytest.mark.slow  # ~5 s: 150 requests built from nested strategies
@given(payload=typed_spans())
@FUZZ
def test_typed_attributes_of_any_type(payload: bytes) -> None:
    batch = decode(payload, Encoding.JSON)
    if batch is not None:
        # a span with valid ids is stored whatever its attributes held
        assert len(batch.spans) + batch.rejected == 1


def test_the_valid_bodies_decode() -> None:
    """The seeds of the mutations are valid, so the mutations start from real requests."""
    assert len(decode(VALID_PROTOBUF, Encoding.PROTOBUF).spans) == 3  # type: ignore[union-attr]
    assert len(decode(VALID_JSON, Encoding.JSON).spans) == 1  # type: ignore[union-attr]
    assert request(_valid_spans()).resource_spans
