"""Who and in what context, on a wrapped OpenAI client's spans."""

from __future__ import annotations

import aither
from aither.testing import SpanCapture

from ..fake_openai import FakeOpenAI
from .conftest import make_client


def test_wrap_and_context_attribute_llm_calls(fake: FakeOpenAI, capture: SpanCapture) -> None:
    fake.chat(times=2)
    client = capture.client.wrap(make_client(fake), name="assistant", user_id="svc", metadata={"app": "bot"})
    messages = [{"role": "user", "content": "Say hello."}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    with aither.context(user_id="u-42", session_id="s-7"):
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    client.close()
    first, second = capture.spans("llm")
    assert (first.attributes["enduser.id"], first.attributes["aither.metadata.app"]) == ("svc", "bot")
    assert "session.id" not in first.attributes
    assert (second.attributes["enduser.id"], second.attributes["session.id"]) == ("u-42", "s-7")
    assert second.attributes["aither.metadata.app"] == "bot"
