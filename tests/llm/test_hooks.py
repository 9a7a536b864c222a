"""The hook layer (``aither/adapters/llm/_hooks.py``): one provider description drives the sync
hook, the async hook and streams; copies are hooked; what every provider shares is the same
for every provider (the stop-sequence cap, the default ``server.port``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from aither.adapters.base import WrapContext
from aither.adapters.llm import _hooks
from aither.adapters.llm._common import LLMCall, StreamRecorder
from aither.schema import semconv
from aither.testing import SpanCapture

from .fake_anthropic import FakeAnthropic
from .fake_gemini import FakeGemini
from .fake_openai import FakeOpenAI

# -- a fourth provider, in one description ---------------------------------------------------------


class ToyClient:
    """Stands for an SDK: ``send`` (sync) and ``asend`` (async) take a path and a JSON body and
    return the provider's JSON, or its chunks for a stream; ``with_options`` and ``copy``
    return new clients, as the Stainless SDKs do."""

    def __init__(self, label: str = "base") -> None:
        self.label = label
        self.sent: list[dict[str, Any]] = []

    def _answer(self, body: dict[str, Any]) -> Any:
        self.sent.append(body)
        if body.get("fail"):
            raise RuntimeError("the toy API failed")
        if body.get("stream"):
            return iter([{"text": "Hel"}, {"text": "lo"}, {"done": "stop", "tokens": [3, 2]}])
        return {"model": "toy-1-0826", "id": "r-1", "text": "Hello", "done": "stop", "tokens": [3, 2]}

    def send(self, path: str, body: dict[str, Any]) -> Any:
        return self._answer(body)

    async def asend(self, path: str, body: dict[str, Any]) -> Any:
        answer = self._answer(body)
        if body.get("stream"):
            return _aiter(list(answer))
        return answer

    def with_options(self, **options: Any) -> ToyClient:
        return ToyClient(str(options.get("label", "options")))

    def copy(self) -> ToyClient:
        return ToyClient("copy")


async def _aiter(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


class _ToyRecorder(StreamRecorder):
    def __init__(self) -> None:
        self.text: list[str] = []
        self.last: dict[str, Any] = {}

    def on_chunk(self, chunk: Any) -> bool:
        if "text" in chunk:
            self.text.append(chunk["text"])
        else:
            self.last = chunk
        return True

    def finish(self, call: LLMCall) -> None:
        _record(call, {**self.last, "text": "".join(self.text)})


def _record(call: LLMCall, answer: dict[str, Any]) -> None:
    call.record_response(
        response_model=answer.get("model"), response_id=answer.get("id"), finish_reasons=[answer["done"]]
    )
    call.record_usage(input_tokens=answer["tokens"][0], output_tokens=answer["tokens"][1])
    call.record_output(texts=[answer["text"]])


class Toy(_hooks.Provider):
    """The whole of a provider: how to read a request, record a response, record a stream."""

    label = "a toy"

    def request(
        self, runtime: Any, site: _hooks.Site, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _hooks.Request | None:
        path, body = args
        if path != "/v1/chat":
            return None
        stream = bool(body.get("stream"))
        call = _hooks.start_call(
            runtime,
            site,
            "toy",
            operation=semconv.GEN_AI_OPERATION_CHAT,
            model=body.get("model"),
            attributes={semconv.GEN_AI_REQUEST_STOP_SEQUENCES: _hooks.stop_sequences(body.get("stop"))},
            stream=stream,
            input_texts=[body.get("prompt", "")],
        )
        return None if call is None else _hooks.Request(self, call, args, kwargs, stream=stream)

    def record(self, call: LLMCall, request: _hooks.Request, response: Any) -> None:
        _record(call, response)

    def recorder(self, call: LLMCall, request: _hooks.Request) -> StreamRecorder:
        return _ToyRecorder()


def _instrument_toy(client: ToyClient, context: WrapContext) -> ToyClient:
    site = _hooks.Site(context, _hooks.server_attributes("https://toy.example.test/v1"))
    result: ToyClient = _hooks.install(client, ("send", "asend"), Toy(), site, _instrument_toy)
    return result


@pytest.fixture
def toy(aither_capture: SpanCapture) -> ToyClient:
    runtime = aither_capture.client._active_runtime()
    context = WrapContext(
        get_runtime=lambda: runtime, name="toy-app", version=None, environment=None, options={}
    )
    return _instrument_toy(ToyClient(), context)


def test_one_description_drives_the_sync_and_async_hooks_and_streams(
    toy: ToyClient, aither_capture: SpanCapture
) -> None:
    body = {"model": "toy-1", "prompt": "Hi"}
    assert toy.send("/v1/chat", body)["text"] == "Hello"
    assert asyncio.run(toy.asend("/v1/chat", body))["text"] == "Hello"
    assert [c.get("text") for c in toy.send("/v1/chat", {**body, "stream": True})] == ["Hel", "lo", None]

    async def consume() -> list[Any]:
        return [c async for c in await toy.asend("/v1/chat", {**body, "stream": True})]

    assert len(asyncio.run(consume())) == 3
    toy.send("/v1/other", body)  # not an LLM call: no span

    spans = aither_capture.spans(semconv.SPAN_KIND_LLM)
    assert len(spans) == 4
    for span in spans:
        assert span.name == "chat toy-1"
        assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "toy"
        assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
        assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 3
        assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
        assert span.attributes[semconv.AITHER_LLM_CLIENT_NAME] == "toy-app"
        assert span.attributes[semconv.SERVER_ADDRESS] == "toy.example.test"
        assert span.attributes[semconv.SERVER_PORT] == 443
    streamed = [s for s in spans if s.attributes.get(semconv.GEN_AI_REQUEST_STREAM)]
    assert len(streamed) == 2
    assert all(s.attributes[semconv.AITHER_LLM_STREAM_CHUNKS] == 3 for s in streamed)
    assert all(s.attributes[semconv.AITHER_LLM_STREAM_END] == "completed" for s in streamed)


def test_an_sdk_error_passes_through_unchanged_and_is_recorded(
    toy: ToyClient, aither_capture: SpanCapture
) -> None:
    with pytest.raises(RuntimeError, match="the toy API failed"):
        toy.send("/v1/chat", {"model": "toy-1", "fail": True})
    (span,) = aither_capture.spans(semconv.SPAN_KIND_LLM)
    assert span.attributes[semconv.ERROR_TYPE] == "RuntimeError"


def test_with_options_and_copy_are_hooked_and_unwrapped_apart(
    toy: ToyClient, aither_capture: SpanCapture
) -> None:
    derived = toy.with_options(label="x")
    copied = toy.copy()
    body = {"model": "toy-1", "prompt": "Hi"}
    for client in (toy, derived, copied):
        client.send("/v1/chat", body)
    assert len(aither_capture.spans(semconv.SPAN_KIND_LLM)) == 3
    aither_capture.clear()

    derived._aither_uninstrument()  # type: ignore[attr-defined]
    derived.send("/v1/chat", body)
    copied.send("/v1/chat", body)
    assert len(aither_capture.spans(semconv.SPAN_KIND_LLM)) == 1  # the copy is still traced
    aither_capture.clear()

    toy._aither_uninstrument()  # type: ignore[attr-defined]
    assert "send" not in toy.__dict__ and "with_options" not in toy.__dict__
    toy.send("/v1/chat", body)
    assert not getattr(toy.with_options(), "_aither_uninstrument", None)
    assert aither_capture.spans(semconv.SPAN_KIND_LLM) == []


def test_stop_sequences_are_capped_the_same_for_every_provider() -> None:
    many = [f"s{i}" for i in range(40)]
    assert _hooks.stop_sequences(many) == many[: _hooks.STOP_SEQUENCES_MAX]
    assert _hooks.stop_sequences("END") == ["END"]
    assert _hooks.stop_sequences([1, 2]) is None


# -- the real providers: what was OpenAI's alone is now everyone's ------------------------------------


def test_openai_stop_sequences_are_capped(aither_capture: SpanCapture) -> None:
    stop = [f"stop-{i}" for i in range(20)]
    with FakeOpenAI() as fake:
        fake.chat()
        client = aither_capture.client.wrap(openai.OpenAI(base_url=fake.url, api_key="x", max_retries=0))
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stop=stop
        )
    (span,) = aither_capture.spans(semconv.SPAN_KIND_LLM)
    assert span.attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == tuple(stop[:16])


def _forward(http: Any, port: int) -> Any:
    """A transport of ``http`` (``httpx``, or the ``httpx2`` the Anthropic SDK uses) that sends
    every request to a local fake server, whatever host and port the client's base URL names:
    the client believes it talks to ``https://<host>`` (port 443, unsaid)."""

    class Forward(http.HTTPTransport):  # type: ignore[misc,name-defined]
        def handle_request(self, request: Any) -> Any:
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=port)
            return super().handle_request(request)

    return Forward()


def test_anthropic_defaults_server_port_from_the_scheme(aither_capture: SpanCapture) -> None:
    with FakeAnthropic() as fake:
        fake.reply_message()
        httpx2 = pytest.importorskip("httpx2")
        http = httpx2.Client(transport=_forward(httpx2, fake.port))
        client = aither_capture.client.wrap(
            anthropic.Anthropic(
                base_url="https://claude.example.test", api_key="x", max_retries=0, http_client=http
            )
        )
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        )
        http.close()
    (span,) = aither_capture.spans(semconv.SPAN_KIND_LLM)
    assert span.attributes[semconv.SERVER_ADDRESS] == "claude.example.test"
    assert span.attributes[semconv.SERVER_PORT] == 443


def test_gemini_defaults_server_port_from_the_scheme(aither_capture: SpanCapture) -> None:
    with FakeGemini() as fake:
        fake.reply_response()
        options = types.HttpOptions(
            base_url="https://gemini.example.test", client_args={"transport": _forward(httpx, fake.port)}
        )
        client = aither_capture.client.wrap(genai.Client(api_key="x", http_options=options))
        client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    (span,) = aither_capture.spans(semconv.SPAN_KIND_LLM)
    assert span.attributes[semconv.SERVER_ADDRESS] == "gemini.example.test"
    assert span.attributes[semconv.SERVER_PORT] == 443
