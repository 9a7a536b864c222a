"""The LangChain callback handler, with LangChain's fake chat models and a real tool: no network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_core")
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_core.runnables import RunnableConfig, RunnableLambda  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

import aither  # noqa: E402
from aither.integrations.langchain import AitherCallbackHandler  # noqa: E402
from aither.testing import SpanCapture  # noqa: E402


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def divide(a: int, b: int) -> float:
    """Divide two numbers."""
    return a / b


def reply(text: str) -> AIMessage:
    return AIMessage(
        content=text,
        usage_metadata={"input_tokens": 12, "output_tokens": 3, "total_tokens": 15},
        response_metadata={"finish_reason": "stop", "model_name": "gpt-4o-mini"},
    )


@pytest.fixture
def capture() -> Iterator[SpanCapture]:
    c = SpanCapture(capture_content=True)
    yield c
    c.close()


def test_a_chain_its_chat_model_and_a_tool_are_one_trace(capture: SpanCapture) -> None:
    model = GenericFakeChatModel(
        messages=iter([reply("It is 3.")]), metadata={"ls_model_name": "gpt-4o-mini"}
    )

    def use_tool(message: AIMessage, config: RunnableConfig) -> dict[str, Any]:
        return {"answer": message.content, "sum": add.invoke({"a": 1, "b": 2}, config)}

    chain = (
        ChatPromptTemplate.from_messages([("system", "Be brief."), ("user", "{q}")])
        | model
        | RunnableLambda(use_tool)
    )
    handler = AitherCallbackHandler(capture.client)
    with aither.context(user_id="u-42"):
        out = chain.invoke({"q": "What is 1+2? mail me at ada@example.com"}, config={"callbacks": [handler]})
    assert out == {"answer": "It is 3.", "sum": 3}
    spans = {s.name: s for s in capture.spans()}
    assert set(spans) == {"RunnableSequence", "ChatPromptTemplate", "chat gpt-4o-mini", "use_tool", "add"}
    root = spans["RunnableSequence"]
    assert root.parent_span_id is None and {s.trace_id for s in spans.values()} == {root.trace_id}
    for name in ("ChatPromptTemplate", "chat gpt-4o-mini", "use_tool"):
        assert spans[name].parent_span_id == root.span_id, name
    assert spans["add"].parent_span_id == spans["use_tool"].span_id
    assert root.attributes["aither.span.type"] == "chain" and root.attributes["enduser.id"] == "u-42"
    assert root.attributes["aither.input"] == {"q": "What is 1+2? mail me at ada@example.com"}
    assert root.attributes["aither.output"] == {"answer": "It is 3.", "sum": 3}
    tool_span = spans["add"]
    assert (tool_span.kind, tool_span.attributes["aither.span.type"]) == ("function", "tool")
    assert tool_span.attributes["aither.input"] == {"a": 1, "b": 2}
    assert tool_span.attributes["aither.output"] == 3
    llm = spans["chat gpt-4o-mini"].attributes
    assert spans["chat gpt-4o-mini"].raw.kind.name == "CLIENT"
    assert {k: llm[k] for k in llm if k.startswith("gen_ai.") and "messages" not in k} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "genericfakechatmodel",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.system_instructions": '[{"type":"text","content":"Be brief."}]',
    }
    assert llm["aither.span.kind"] == "llm" and llm["enduser.id"] == "u-42"
    assert llm["aither.pii.input.email"] == 1 and llm["aither.cost.unknown_model"] is True  # a fake provider
    assert '"content":"It is 3."' in llm["gen_ai.output.messages"]


def test_errors_end_the_runs_span_as_errors(capture: SpanCapture) -> None:
    def fail(_: Any) -> None:
        raise ValueError("no answer")

    chain = RunnableLambda(lambda x: x) | RunnableLambda(fail)
    with pytest.raises(ValueError, match="no answer"):
        chain.invoke(1, config={"callbacks": [aither.langchain_handler(capture.client)]})
    spans = {s.name: s for s in capture.spans()}
    assert spans["fail"].status == "ERROR" and spans["RunnableSequence"].status == "ERROR"
    assert spans["fail"].events[0]["name"] == "exception"


def test_a_failed_tool_run_ends_its_span_as_an_error(capture: SpanCapture) -> None:
    handler = aither.langchain_handler(capture.client)
    with pytest.raises(ZeroDivisionError):
        divide.invoke({"a": 1, "b": 0}, config={"callbacks": [handler]})
    assert divide.invoke({"a": 6, "b": 3}, config={"callbacks": [handler]}) == 2
    failed, done = capture.spans()
    assert (failed.name, failed.status, failed.attributes["aither.span.type"]) == ("divide", "ERROR", "tool")
    assert failed.events[0]["name"] == "exception"
    assert (done.status, done.attributes["aither.output"]) == ("UNSET", 2.0)


def test_a_handler_of_a_disabled_client_runs_the_chain_untraced(aither_default: SpanCapture) -> None:
    chain = RunnableLambda(lambda x: x + 1) | RunnableLambda(lambda x: x * 2)
    handler = aither.langchain_handler(aither.Client(enabled=False))
    assert chain.invoke(1, config={"callbacks": [handler]}) == 4
    # The handler asks its own client's lookup, not the default client's (which captures).
    assert aither_default.client.flush() and aither_default.spans() == []
    chain.invoke(1, config={"callbacks": [aither.langchain_handler()]})
    assert aither_default.client.flush() and len(aither_default.spans()) == 3
