"""Agent tracking: an agent-shaped flow of tracked functions, tool spans, a wrapped callable,
events, concurrent async tools and a generator, checked span by span as a receiver sees them."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import math
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import pytest
from receiver import OTLPReceiver, ReceivedSpan

import aither
from aither.testing import SpanCapture

SECRET = "hunter2-sk-live-0042"


def by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    named = {s.name: s for s in spans}
    assert len(named) == len(spans), [s.name for s in spans]
    return named


def decoded(span: ReceivedSpan) -> dict[str, Any]:
    """The span's attributes with the JSON ones decoded, as the server reads them."""
    out = dict(span.attributes)
    for key in ("aither.input", "aither.output", "ml.features", "ml.prediction"):
        if key in out:
            out[key] = json.loads(out[key])
    return out


@pytest.fixture
def client(receiver: OTLPReceiver) -> Iterator[aither.Client]:
    c = aither.Client(
        otlp_endpoint=receiver.endpoint,
        redact_keys=["api_key", "Password", "token"],
        raise_internal_errors=True,
    )
    yield c
    c.close()


def test_an_agent_run_is_one_trace_with_every_step_in_place(
    client: aither.Client, receiver: OTLPReceiver
) -> None:
    def rank(hits: list[str]) -> float:
        return len(hits) / 10

    ranker = client.wrap(rank, name="ranker")

    def retrieve(question: str) -> list[str]:
        with client.span("retrieve", kind="retrieval", input={"query": question}) as s:
            docs = ["doc a", "doc b"]
            s.set_output(docs)
            return docs

    @client.track("plan", event_type="agent", metadata={"agent": "support", "limits": {"steps": 3}})
    def plan(question: str, api_key: str, options: dict[str, Any]) -> dict[str, Any]:
        docs = retrieve(question)
        with client.span("search", kind="tool", metadata={"engine": "bm25"}) as s:
            hits = [d.upper() for d in docs]
            s.set_output(hits)
            s.set_cost(0.002)
            s.set_metadata({"hits": len(hits)}, token=SECRET)
        score = ranker(hits)
        client.log_event(
            "decision",
            input={"score": score, "auth": {"password": SECRET}},
            output="answer",
            cost=0.0005,
            metadata={"password": SECRET, "model": "rules-v1"},
            event_type="decision",
        )
        return {"answer": "42", "credentials": {"password": SECRET, "user": "ada"}}

    result = plan("why?", api_key=SECRET, options={"nested": [{"token": SECRET, "depth": 2}]})
    assert result == {"answer": "42", "credentials": {"password": SECRET, "user": "ada"}}  # untouched
    assert client.flush()

    spans = by_name(receiver.received())
    assert set(spans) == {"plan", "retrieve", "search", "predict ranker", "decision"}
    root = spans["plan"]
    assert {s.trace_id for s in spans.values()} == {root.trace_id}
    assert root.parent_span_id is None
    for name in ("retrieve", "search", "predict ranker", "decision"):
        assert spans[name].parent_span_id == root.span_id, name

    assert decoded(root) == {
        "aither.span.kind": "function",
        "aither.schema.version": "2",
        "aither.span.type": "agent",
        "aither.metadata.agent": "support",
        "aither.metadata.limits": json.dumps({"steps": 3}, separators=(",", ":")),
        "aither.input": {
            "question": "why?",
            "api_key": "[REDACTED]",
            "options": {"nested": [{"token": "[REDACTED]", "depth": 2}]},
        },
        "aither.output": {"answer": "42", "credentials": {"password": "[REDACTED]", "user": "ada"}},
    }
    assert decoded(spans["retrieve"]) == {
        "aither.span.kind": "function",
        "aither.schema.version": "2",
        "aither.span.type": "retrieval",
        "aither.input": {"query": "why?"},
        "aither.output": ["doc a", "doc b"],
    }
    assert decoded(spans["search"]) == {
        "aither.span.kind": "function",
        "aither.schema.version": "2",
        "aither.span.type": "tool",
        "aither.metadata.engine": "bm25",
        "aither.metadata.hits": 2,
        "aither.metadata.token": "[REDACTED]",
        "aither.output": ["DOC A", "DOC B"],
        "aither.cost.usd": 0.002,
    }
    assert decoded(spans["decision"]) == {
        "aither.span.kind": "event",
        "aither.schema.version": "2",
        "aither.span.type": "decision",
        "aither.metadata.password": "[REDACTED]",
        "aither.metadata.model": "rules-v1",
        "aither.input": {"score": 0.2, "auth": {"password": "[REDACTED]"}},
        "aither.output": "answer",
        "aither.cost.usd": 0.0005,
    }
    prediction = decoded(spans["predict ranker"])
    assert prediction["aither.span.kind"] == "prediction"
    assert prediction["ml.model.name"] == "ranker"
    assert prediction["ml.model.framework"] == "callable"
    assert prediction["ml.prediction"]["sample"] == 0.2
    # The run's cost is the sum over its trace (the server adds it up; the SDK sends each step's).
    total = sum(s.attributes.get("aither.cost.usd", 0.0) for s in spans.values())
    assert math.isclose(total, 0.0025)
    # Redacted before queueing: the secret is nowhere in what reached the receiver.
    assert SECRET not in repr([(s.attributes, s.events) for s in receiver.received()])


async def test_concurrent_async_tools_keep_their_own_parents(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    started: list[str] = []
    all_started = asyncio.Event()

    @client.track("fetch", event_type="tool")
    async def fetch(url: str) -> str:
        async with client.span("http", kind="io", metadata={"url": url}) as s:
            started.append(url)
            if len(started) == 3:
                all_started.set()
            await all_started.wait()  # all three tools are inside their spans at once
            s.set_output(f"page {url}")
        client.log_event("fetched", metadata={"url": url})
        return f"page {url}"

    @client.track("agent", event_type="agent")
    async def agent() -> list[str]:
        return await asyncio.gather(fetch("a"), fetch("b"), fetch("c"))

    assert await agent() == ["page a", "page b", "page c"]
    spans = aither_capture.spans()
    (root,) = [s for s in spans if s.name == "agent"]
    assert root.parent_span_id is None
    fetches = {s.attributes["aither.input"]["url"]: s for s in spans if s.name == "fetch"}
    assert set(fetches) == {"a", "b", "c"}
    for url, tool in fetches.items():
        assert tool.parent_span_id == root.span_id
        (http,) = [s for s in spans if s.name == "http" and s.attributes["aither.metadata.url"] == url]
        (event,) = [s for s in spans if s.name == "fetched" and s.attributes["aither.metadata.url"] == url]
        assert http.parent_span_id == tool.span_id, url
        assert event.parent_span_id == tool.span_id, url
        assert http.attributes["aither.output"] == f"page {url}"
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert len(spans) == 10


def test_a_tracked_generator_parents_its_steps_but_not_the_consumer(aither_capture: SpanCapture) -> None:
    client = aither_capture.client

    @client.track("stream_answer", event_type="agent")
    def stream_answer(n: int) -> Iterator[str]:
        for i in range(n):
            with client.span("think", kind="step", metadata={"i": i}):
                pass
            yield f"token{i}"

    with client.span("request", kind="http"):
        received = []
        for token in stream_answer(3):
            with client.span("consume", kind="ui", metadata={"token": token}):
                received.append(token)
    assert received == ["token0", "token1", "token2"]

    spans = aither_capture.spans()
    (request,) = [s for s in spans if s.name == "request"]
    (gen,) = [s for s in spans if s.name == "stream_answer"]
    thinks = [s for s in spans if s.name == "think"]
    consumes = [s for s in spans if s.name == "consume"]
    assert gen.parent_span_id == request.span_id
    assert [s.parent_span_id for s in thinks] == [gen.span_id] * 3
    assert [s.parent_span_id for s in consumes] == [request.span_id] * 3  # the caller's context
    assert gen.attributes["aither.output"] == ["token0", "token1", "token2"]
    assert gen.attributes["aither.input"] == {"n": 3}


def test_a_failing_tool_is_recorded_and_its_exception_reaches_the_agent_unchanged(
    aither_capture: SpanCapture,
) -> None:
    client = aither_capture.client

    class ToolFailed(Exception):
        pass

    error = ToolFailed("quota exceeded")

    @client.track("agent")
    def agent() -> str:
        try:
            with client.span("call_api", kind="tool"):
                raise error
        except ToolFailed as caught:
            seen.append(caught)
            return "fallback"

    seen: list[BaseException] = []
    assert agent() == "fallback"
    assert seen == [error] and seen[0] is error
    tool, root = aither_capture.spans()
    assert tool.status == "ERROR" and root.status == "UNSET"
    assert [e["name"] for e in tool.events] == ["exception"]
    assert tool.events[0]["attributes"]["exception.type"].endswith("ToolFailed")
    assert tool.events[0]["attributes"]["exception.message"] == "quota exceeded"
    assert root.attributes["aither.output"] == "fallback"


@dataclasses.dataclass
class Credentials:
    user: str
    password: str
    scopes: list[str]


def test_redact_keys_reach_into_dataclasses_and_models_before_queueing(receiver: OTLPReceiver) -> None:
    client = aither.Client(otlp_endpoint=receiver.endpoint, redact_keys=["password"])
    creds = Credentials("ada", SECRET, ["read"])

    @client.track("login")
    def login(creds: Credentials) -> Credentials:
        return creds

    login(creds)
    with client.span("check", kind="tool", metadata={"creds": creds}) as s:
        s.set_output([creds])
    # Mutating the objects after the calls changes nothing that was recorded.
    creds.user = "mallory"
    assert client.flush()
    client.close()
    spans = by_name(receiver.received())
    expected = {"user": "ada", "password": "[REDACTED]", "scopes": ["read"]}
    assert json.loads(spans["login"].attributes["aither.input"]) == {"creds": expected}
    assert json.loads(spans["login"].attributes["aither.output"]) == expected
    assert json.loads(spans["check"].attributes["aither.metadata.creds"]) == expected
    assert json.loads(spans["check"].attributes["aither.output"]) == [expected]
    assert SECRET not in repr([s.attributes for s in receiver.received()])


def test_redact_keys_reach_into_pydantic_models() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Account(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        name: str
        api_key: str

    capture = SpanCapture(redact_keys=["API_KEY"])
    try:
        capture.client.log_event("connect", input=Account(name="prod", api_key=SECRET))
        (event,) = capture.spans()
    finally:
        capture.close()
    assert event.attributes["aither.input"] == {"name": "prod", "api_key": "[REDACTED]"}


class Login(NamedTuple):
    user: str
    token: str


def test_redact_keys_reach_into_named_tuples_which_otherwise_stay_lists() -> None:
    capture = SpanCapture(redact_keys=["token"])
    plain = SpanCapture()
    try:
        capture.client.log_event("login", input={"attempts": [Login("ada", SECRET)]})
        plain.client.log_event("login", input=Login("ada", "t"))
        (event,) = capture.spans()
        (unredacted,) = plain.spans()
    finally:
        capture.close()
        plain.close()
    assert event.attributes["aither.input"] == {"attempts": [{"user": "ada", "token": "[REDACTED]"}]}
    assert unredacted.attributes["aither.input"] == ["ada", "t"]


def test_disabled_every_call_is_a_pass_through(receiver: OTLPReceiver) -> None:
    client = aither.Client(otlp_endpoint=receiver.endpoint, enabled=False)
    payload = {"big": list(range(10))}

    @client.track("agent", event_type="agent")
    def agent(x: dict[str, Any]) -> dict[str, Any]:
        return x

    @client.track
    async def tool() -> str:
        return "ok"

    @client.track
    def steps() -> Iterator[int]:
        yield from (1, 2)

    def model(x: Any) -> Any:
        return x

    assert agent(payload) is payload
    assert asyncio.run(tool()) == "ok"
    assert list(steps()) == [1, 2]
    assert client.wrap(model, name="m")(payload) is payload
    with client.span("retrieve", kind="tool", input=payload) as s:
        s.set_output(payload)
        s.set_cost(0.1)
        s.set_metadata(a=1)
        assert s.trace_id is None
    assert client.log_event("step", output=payload, cost=0.1) is None
    with pytest.raises(KeyError):  # the user's exceptions pass through too
        with client.span("failing"):
            raise KeyError("x")
    assert client.flush()
    client.close()
    assert receiver.received() == []
    assert receiver.requests == []
    assert client.stats().queued == 0


def test_on_error_receives_internal_errors_and_the_agent_carries_on(
    receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[BaseException] = []

    class Exploding(Mapping[str, Any]):
        """A mapping aither cannot read: its items raise."""

        def __init__(self) -> None:
            self.failure = RuntimeError("cannot iterate a remote cursor")

        def __getitem__(self, key: str) -> Any:
            raise KeyError(key)

        def __iter__(self) -> Iterator[str]:
            raise self.failure

        def __len__(self) -> int:
            return 1

    client = aither.Client(
        otlp_endpoint=receiver.endpoint, raise_internal_errors=False, on_error=errors.append
    )
    cursor = Exploding()

    @client.track("query", event_type="tool")
    def query() -> Exploding:
        return cursor

    assert query() is cursor  # the agent gets its value
    with client.span("inspect", kind="tool") as s:
        s.set_output(cursor)  # never raises into the agent
    assert errors == [cursor.failure, cursor.failure]
    assert client.stats().internal_errors == 2
    assert "your code is unaffected" in caplog.text
    assert client.flush()
    client.close()
    spans = by_name(receiver.received())
    # The spans are still recorded, with a placeholder for what could not be read.
    assert spans["query"].attributes["aither.output"] == json.dumps("<Exploding object>")
    assert spans["inspect"].attributes["aither.output"] == json.dumps("<Exploding object>")


def test_on_error_receives_a_failing_features_fn() -> None:
    errors: list[BaseException] = []
    capture = SpanCapture(raise_internal_errors=False, on_error=errors.append)
    failure = ValueError("features_fn cannot parse the request")

    def features(x: Any) -> Any:
        raise failure

    try:
        tool = capture.client.wrap(lambda x: x * 2, name="doubler", features_fn=features)
        with capture.client.span("agent", kind="agent"):
            assert tool(21) == 42
        prediction, agent = capture.spans()
    finally:
        capture.close()
    assert errors == [failure]
    assert prediction.parent_span_id == agent.span_id
    assert prediction.attributes["ml.prediction"]["sample"] == 42


@pytest.mark.parametrize("enabled", [True, False])
def test_bad_arguments_raise_at_the_call_enabled_or_not(enabled: bool, receiver: OTLPReceiver) -> None:
    client = aither.Client(otlp_endpoint=receiver.endpoint, enabled=enabled)
    with client.span("ok", kind="tool") as s:
        for bad_cost in (-1, float("nan"), float("inf"), True, "0.1", None):
            with pytest.raises(ValueError, match="cost must be a finite number"):
                s.set_cost(bad_cost)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        client.span("")
    with pytest.raises(ValueError, match="kind must be a non-empty string"):
        client.span("x", kind="")
    with pytest.raises(ValueError, match="kind must be a non-empty string"):
        client.span("x", kind=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        client.span("x", metadata=[("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        client.log_event(" ")
    with pytest.raises(ValueError, match="cost must be a finite number"):
        client.log_event("e", cost=-0.5)
    with pytest.raises(ValueError, match="event_type must be a non-empty string"):
        client.log_event("e", event_type="")
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        client.log_event("e", metadata="tool=search")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="event_type must be a non-empty string"):
        client.track("x", event_type="")
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        client.track("x", metadata=["a"])(lambda: None)  # type: ignore[arg-type]
    assert client.flush()
    client.close()
    # Only the one good span was made; a span kind is a free-form sub-type.
    assert [s.name for s in receiver.received()] == (["ok"] if enabled else [])


def test_a_span_kind_is_a_free_form_sub_type(aither_capture: SpanCapture) -> None:
    with aither_capture.client.span("step", kind="bogus"):
        pass
    (span,) = aither_capture.spans()
    assert (span.kind, span.attributes["aither.span.type"]) == ("function", "bogus")


def test_the_module_level_api_records_to_the_default_client(aither_default: SpanCapture) -> None:
    @aither.track("agent", event_type="agent")
    def agent() -> str:
        with aither.span("tool", kind="tool") as s:
            s.set_cost(0.01)
        aither.log_event("note", metadata={"k": "v"})
        return "done"

    assert agent() == "done"
    tool, note, root = aither_default.spans()
    assert (tool.parent_span_id, note.parent_span_id) == (root.span_id, root.span_id)
    assert tool.attributes["aither.cost.usd"] == 0.01
    assert aither.last_trace_id() == root.trace_id


def test_tools_in_a_thread_pool_keep_their_parent_when_given_the_context(aither_capture: SpanCapture) -> None:
    client = aither_capture.client

    @client.track("tool", event_type="tool")
    def tool(x: int) -> int:
        return x

    with client.span("agent", kind="agent"), ThreadPoolExecutor(2) as pool:
        assert pool.submit(contextvars.copy_context().run, tool, 1).result() == 1
        # Threads do not inherit context (as everywhere in OpenTelemetry): a new trace.
        assert pool.submit(tool, 2).result() == 2
    spans = aither_capture.spans()
    (agent,) = [s for s in spans if s.name == "agent"]
    tools = {s.attributes["aither.input"]["x"]: s for s in spans if s.name == "tool"}
    assert (tools[1].trace_id, tools[1].parent_span_id) == (agent.trace_id, agent.span_id)
    assert tools[2].parent_span_id is None and tools[2].trace_id != agent.trace_id


def test_setting_a_span_after_its_block_ended_is_an_error_not_a_silent_loss(
    aither_capture: SpanCapture,
) -> None:
    with aither_capture.client.span("retrieve", kind="tool") as s:
        s.set_output(["doc"])
    for setter, value in (
        (s.set_output, ["late"]),
        (s.set_input, "late"),
        (s.set_cost, 0.1),
        (s.set_metadata, {"late": True}),
    ):
        with pytest.raises(RuntimeError, match=r"span 'retrieve' has ended; call set_\w+\(\) inside"):
            setter(value)
    (span,) = aither_capture.spans()
    assert span.attributes["aither.output"] == ["doc"]
    assert "aither.cost.usd" not in span.attributes
