"""The legacy google.generativeai SDK, as the oldest seed (AegisAI) used it, against a local
server speaking the Generative Language REST wire format (the SDK's ``transport="rest"``)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import google.generativeai as genai

import aither
from aither.testing import SpanCapture

from ..fake_gemini import MODEL, FakeGemini, stream_chunks
from ..wire import raw_reply

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        genai.configure(api_key="test-key", transport="rest", client_options={"api_endpoint": server.base})
        yield server


@pytest.fixture
def capture() -> Iterator[SpanCapture]:
    c = SpanCapture(capture_content=True)
    yield c
    c.close()


def test_generate_content_is_the_gemini_span(fake: FakeGemini, capture: SpanCapture) -> None:
    fake.reply_response(text="AI is software that learns.")
    plain_model = genai.GenerativeModel(MODEL, system_instruction="Be brief.")
    model = capture.client.wrap(genai.GenerativeModel(MODEL, system_instruction="Be brief."), name="aegis")
    assert model is not None and isinstance(model, genai.GenerativeModel)
    response = model.generate_content(
        "What is AI?", generation_config={"temperature": 0.2, "max_output_tokens": 64}
    )
    assert response.text == "AI is software that learns."
    assert fake.requests[0].route.endswith(f"models/{MODEL}:generateContent")
    fake.reply_response(text="AI is software that learns.")
    plain = plain_model.generate_content(
        "What is AI?", generation_config={"temperature": 0.2, "max_output_tokens": 64}
    )
    assert fake.requests[0].json() == fake.requests[1].json()  # the request is not changed
    assert type(plain) is type(response) and plain.text == response.text
    (span,) = capture.spans()
    attrs: dict[str, Any] = span.attributes
    assert (
        span.name == f"generate_content {MODEL}" and span.status == "UNSET" and span.raw.kind.name == "CLIENT"
    )
    assert {k: v for k, v in attrs.items() if k.startswith("gen_ai.") and "messages" not in k} == {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.response.model": MODEL,
        # no gen_ai.response.id: the legacy SDK's protos predate responseId and drop it
        "gen_ai.response.finish_reasons": ("STOP",),
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 4,
        "gen_ai.system_instructions": '[{"type":"text","content":"Be brief."}]',
    }
    assert attrs["aither.llm.client.name"] == "aegis" and attrs["aither.cost.usd"] > 0
    assert '"content":"What is AI?"' in attrs["gen_ai.input.messages"]
    assert '"content":"AI is software that learns."' in attrs["gen_ai.output.messages"]
    assert aither.unwrap(model) is model and "generate_content" not in vars(model)


def test_a_streamed_generation_ends_its_span_once(fake: FakeGemini, capture: SpanCapture) -> None:
    # Without alt=sse, as this SDK's REST transport asks, the API streams one JSON array.
    events = [json.loads(c.decode().removeprefix("data: ")) for c in stream_chunks(("Hel", "lo"))]
    fake.add(raw_reply(json.dumps(events).encode(), content_type="application/json"))
    model = capture.client.wrap(genai.GenerativeModel(MODEL))
    response = model.generate_content("Hi", stream=True)
    assert "".join(chunk.text for chunk in response) == "Hello"
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "completed"
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.finish_reasons"] == ("STOP",)
    assert '"content":"Hello"' in span.attributes["gen_ai.output.messages"]


def test_an_api_error_is_recorded_and_raised_unchanged(fake: FakeGemini, capture: SpanCapture) -> None:
    fake.reply_error(400)
    model = capture.client.wrap(genai.GenerativeModel(MODEL))
    with pytest.raises(Exception) as info:
        model.generate_content("Hi")
    assert type(info.value).__module__.startswith("google.api_core")
    (span,) = capture.spans()
    assert span.status == "ERROR" and span.attributes["http.response.status_code"] == 400
    assert span.attributes["error.type"] == type(info.value).__name__
