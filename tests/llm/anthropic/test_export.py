"""An Anthropic span through the whole pipeline to a real OTLP/HTTP receiver."""

from __future__ import annotations

import json

from receiver import OTLPReceiver

import aither
from aither.schema import semconv

from ..fake_anthropic import MODEL, FakeAnthropic
from .conftest import USER, make_client


def test_a_streamed_call_reaches_an_otlp_receiver_with_its_content(
    fake: FakeAnthropic, receiver: OTLPReceiver
) -> None:
    client = aither.Client(
        api_key="k", base_url=receiver.base_url, capture_content=True, raise_internal_errors=True
    )
    anthropic_client = client.wrap(make_client(fake))
    fake.reply_stream()

    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=64, system="Be terse.", messages=USER
    ) as stream:
        text = stream.get_final_text()

    assert client.flush(10) is True
    (span,) = receiver.received("llm")
    assert text == "Hello there!"
    assert span.name == f"chat {MODEL}" and span.scope == "aither"
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert attrs[semconv.AITHER_COST_USD] > 0
    assert json.loads(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be terse."}]
    assert json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [
        {"type": "text", "content": "Hello there!"}
    ]
    assert client.stats().internal_errors == 0
    anthropic_client.close()
    client.close()
