"""A Gemini span through the whole pipeline to a real OTLP/HTTP receiver."""

from __future__ import annotations

import json

from receiver import OTLPReceiver

import aither
from aither.schema import semconv

from ..fake_gemini import MODEL, FakeGemini
from .conftest import make_client


def test_a_streamed_call_reaches_an_otlp_receiver_with_its_content(
    fake: FakeGemini, receiver: OTLPReceiver
) -> None:
    client = aither.Client(
        api_key="k", base_url=receiver.base_url, capture_content=True, raise_internal_errors=True
    )
    gemini = client.wrap(make_client(fake))
    fake.reply_stream()

    text = "".join(c.text for c in gemini.models.generate_content_stream(model=MODEL, contents="Say hello."))

    assert client.flush(10) is True
    (span,) = receiver.received("llm")
    assert text == "Hello there!"
    assert span.name == f"generate_content {MODEL}" and span.scope == "aither"
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert attrs[semconv.AITHER_COST_USD] > 0
    assert json.loads(attrs[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}
    ]
    assert client.stats().internal_errors == 0
    gemini.close()
    client.close()
