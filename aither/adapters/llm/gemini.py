"""Google Gen AI (Gemini): ``aither.wrap(genai.Client(...))`` traces content generation and
embeddings, sync and async.

``google-genai`` builds every resource (``client.models``, ``client.aio.models``...) on one
``BaseApiClient`` shared by the client and its ``aio`` twin, and every call ends in that
object's ``request``, ``request_streamed``, ``async_request`` or ``async_request_streamed``,
with the REST path and the body already in the API's JSON shape. Those four methods are
hooked on the client's own ``BaseApiClient`` instance (so wrapping ``client`` also traces
``client.aio``); ``aither.unwrap(client)`` removes the hooks.

Spans are made for ``{model}:generateContent`` and ``:streamGenerateContent`` (operation
``generate_content``) and ``:embedContent`` / ``:batchEmbedContents`` / Vertex AI's
``:predict`` (``embeddings``); every other request (files, caches, token counting...) passes
straight through. One span per HTTP request: automatic function calling, which loops inside
``generate_content``, makes one span per model call.

Usage follows the GenAI conventions' totals: ``gen_ai.usage.input_tokens`` is
``promptTokenCount`` (which includes ``cachedContentTokenCount``, also set apart), and
``gen_ai.usage.output_tokens`` is ``candidatesTokenCount + thoughtsTokenCount`` (thinking
tokens also set apart as reasoning tokens). A stream's usage and finish reasons come with its
last chunk. Finish reasons are Gemini's as sent (``STOP``, ``MAX_TOKENS``, ``SAFETY``...).

The SDK hands the caller chunks from generators of its own, wrapped around the HTTP stream;
when the caller stops reading early, closing or dropping its generator, Python closes the
SDK's generators and the HTTP stream is dropped without a ``close()`` aither could see, so a
Gemini stream stopped early ends as ``aither.llm.stream.end = closed`` in both cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ...schema import providers, semconv
from ...tracing.llm_record import captured_embedding
from ..base import Adapter, WrapContext
from . import _common, _hooks
from ._common import AsyncStreamProxy, LLMCall, StreamProxy, StreamRecorder, TextBudget, as_int
from ._hooks import is_int, is_number, stop_sequences

if TYPE_CHECKING:
    from ..._runtime import Runtime


_GENERATE = ("generateContent", "streamGenerateContent")
_EMBED = ("embedContent", "batchEmbedContents", "predict")
_HOOKED = ("request", "request_streamed", "async_request", "async_request_streamed")


# -- the request ---------------------------------------------------------------------------------


def parse_path(path: str) -> tuple[str, str] | None:
    """``(operation, model)`` of a request path, or None for a request that is not traced.

    ``models/gemini-2.5-flash:generateContent`` gives ``("generate_content",
    "gemini-2.5-flash")``; Vertex AI's ``projects/p/locations/l/publishers/google/models/m:predict``
    gives ``("embeddings", "m")``.
    """
    resource, sep, method = path.partition("?")[0].rpartition(":")
    if not sep:
        return None
    if method in _GENERATE:
        operation = semconv.GEN_AI_OPERATION_GENERATE_CONTENT
    elif method in _EMBED:
        operation = semconv.GEN_AI_OPERATION_EMBEDDINGS
    else:
        return None
    _, found, model = resource.rpartition("models/")
    return operation, model if found else resource


def generation_attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    """``gen_ai.request.*`` of a generateContent body's ``generationConfig``; O(1)."""
    found: dict[str, Any] = {}
    config = body.get("generationConfig")
    if not isinstance(config, Mapping):
        return found
    max_tokens = config.get("maxOutputTokens")
    if is_number(max_tokens):
        found[semconv.GEN_AI_REQUEST_MAX_TOKENS] = int(max_tokens)
    for key, name in (
        ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
        ("topP", semconv.GEN_AI_REQUEST_TOP_P),
        ("frequencyPenalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
        ("presencePenalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ):
        value = config.get(key)
        if is_number(value):
            found[name] = float(value)
    for key, name in (
        ("topK", semconv.GEN_AI_REQUEST_TOP_K),  # the SDK sends it as a float
        ("seed", semconv.GEN_AI_REQUEST_SEED),
        ("candidateCount", semconv.GEN_AI_REQUEST_CHOICE_COUNT),
    ):
        value = config.get(key)
        if is_number(value):
            found[name] = int(value)
    stop = stop_sequences(config.get("stopSequences"))
    if stop:
        found[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
    return found


def embedding_dimensions(body: Mapping[str, Any]) -> int | None:
    """The output dimensionality an embedding request asks for, when it asks."""
    requests = body.get("requests")
    first = requests[0] if isinstance(requests, list) and requests else body
    value = first.get("outputDimensionality") if isinstance(first, Mapping) else None
    if value is None:
        parameters = body.get("parameters")  # Vertex AI's :predict
        value = parameters.get("outputDimensionality") if isinstance(parameters, Mapping) else None
    return int(value) if is_number(value) else None


def _contents(body: Mapping[str, Any]) -> list[Any]:
    """The Content objects of a request: ``contents``, or an embedding request's texts."""
    contents = body.get("contents")
    if isinstance(contents, list):
        return contents
    requests = body.get("requests")
    if isinstance(requests, list):
        return [r.get("content") for r in requests if isinstance(r, Mapping)]
    instances = body.get("instances")  # Vertex AI's :predict
    if isinstance(instances, list):
        return [
            {"role": "user", "parts": [{"text": i.get("content")}]}
            for i in instances
            if isinstance(i, Mapping)
        ]
    content = body.get("content")
    return [content] if isinstance(content, Mapping) else []


def _part_texts(parts: Any) -> Iterator[str]:
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, Mapping):
            continue
        text = part.get("text")
        if isinstance(text, str):
            if part.get("thought") is not True:
                yield text
            continue
        result = part.get("functionResponse")
        if isinstance(result, Mapping):
            response = result.get("response")
            if isinstance(response, Mapping):
                for value in list(response.values())[:64]:
                    if isinstance(value, str):
                        yield value


def input_texts(body: Mapping[str, Any]) -> list[str]:
    """The user's and tools' text, latest content first, up to the scan limit."""
    found: list[str] = []
    left = _common.SCAN_MAX_CHARS
    for content in reversed(_contents(body)):
        if not isinstance(content, Mapping) or content.get("role", "user") not in (
            "user",
            "function",
            "tool",
        ):
            continue
        for text in _part_texts(content.get("parts")):
            found.append(text)
            left -= len(text)
            if left <= 0:
                return found
    return found


def _system(body: Mapping[str, Any]) -> list[Any] | None:
    system = body.get("systemInstruction")
    if isinstance(system, Mapping) and isinstance(system.get("parts"), list):
        return list(system["parts"])
    return None


def _either(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    """The SDK sends some nested keys in snake case (``inlineData.mime_type``), the API
    documents camel case: read both."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _part(part: Any, budget: TextBudget) -> dict[str, Any]:
    """One Part in the GenAI conventions' part shape; inline data is never kept."""
    if not isinstance(part, Mapping):
        return {"type": "text", "content": budget.text(str(part))}
    text = part.get("text")
    if isinstance(text, str):
        return {"type": "reasoning" if part.get("thought") is True else "text", "content": budget.text(text)}
    call = part.get("functionCall")
    if isinstance(call, Mapping):
        return {
            "type": "tool_call",
            "id": call.get("id"),
            "name": call.get("name"),
            "arguments": budget.value(call.get("args")),
        }
    result = part.get("functionResponse")
    if isinstance(result, Mapping):
        return {
            "type": "tool_call_response",
            "id": result.get("id"),
            "response": budget.value(result.get("response")),
        }
    inline = part.get("inlineData")
    if isinstance(inline, Mapping):
        return {"type": "blob", "mime_type": _either(inline, "mimeType", "mime_type")}
    file = part.get("fileData")
    if isinstance(file, Mapping):
        uri = _either(file, "fileUri", "file_uri")
        return {
            "type": "uri",
            "mime_type": _either(file, "mimeType", "mime_type"),
            "uri": budget.text(uri) if isinstance(uri, str) else None,
        }
    return {"type": next(iter(part), "unknown")}


def _message(content: Any, budget: TextBudget, default_role: str) -> dict[str, Any]:
    if not isinstance(content, Mapping):
        return {"role": default_role, "parts": []}
    role = content.get("role") or default_role
    parts = content.get("parts")
    return {
        "role": "assistant" if role == "model" else role,
        "parts": [_part(p, budget) for p in parts] if isinstance(parts, list) else [],
    }


def start_call(
    runtime: Runtime,
    site: _hooks.Site,
    provider: str,
    operation: str,
    model: str,
    body: Mapping[str, Any],
    stream: bool,
) -> LLMCall | None:
    """Start the span of one generateContent or embedding request."""
    attributes: dict[str, Any] = {}
    messages: Callable[[TextBudget], Any] | None = None
    system_builder: Callable[[TextBudget], Any] | None = None
    system_text: list[str] = []
    if operation == semconv.GEN_AI_OPERATION_EMBEDDINGS:
        dimensions = embedding_dimensions(body)
        if dimensions is not None:
            attributes[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    else:
        attributes.update(generation_attributes(body))
        contents = body.get("contents")
        if isinstance(contents, list):
            messages = lambda budget: [_message(c, budget, "user") for c in contents]  # noqa: E731
        system = _system(body)
        if system is not None:
            system_text = list(_part_texts(system))
            system_builder = lambda budget: [_part(p, budget) for p in system]  # noqa: E731
    return _hooks.start_call(
        runtime,
        site,
        provider,
        operation=operation,
        model=model,
        attributes=attributes,
        stream=stream,
        input_texts=input_texts(body),
        system_texts=system_text,
        input_messages=messages,
        system_instructions=system_builder,
    )


# -- the response --------------------------------------------------------------------------------


def record_usage(call: LLMCall, usage: Any) -> None:
    """``usageMetadata``: the output includes the thinking tokens, which Gemini counts apart
    from ``candidatesTokenCount``."""
    if not isinstance(usage, Mapping):
        return
    candidates = as_int(usage.get("candidatesTokenCount"))
    thoughts = as_int(usage.get("thoughtsTokenCount"))
    call.record_usage(
        input_tokens=as_int(usage.get("promptTokenCount")),
        output_tokens=None
        if candidates is None and thoughts is None
        else (candidates or 0) + (thoughts or 0),
        cache_read_tokens=as_int(usage.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
    )


def _candidates(response: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    candidates = response.get("candidates")
    return [c for c in candidates if isinstance(c, Mapping)] if isinstance(candidates, list) else []


def record_generation(call: LLMCall, response: Mapping[str, Any]) -> None:
    """What a whole GenerateContentResponse says."""
    candidates = _candidates(response)
    reasons = [c["finishReason"] for c in candidates if isinstance(c.get("finishReason"), str)]
    call.record_response(
        response_model=response.get("modelVersion"),
        response_id=response.get("responseId"),
        finish_reasons=reasons or None,
    )
    record_usage(call, response.get("usageMetadata"))
    call.record_output(
        texts=[t for c in candidates for t in _part_texts(_field_parts(c))],
        messages=lambda budget: [
            {**_message(c.get("content"), budget, "assistant"), "finish_reason": c.get("finishReason")}
            for c in candidates
        ],
    )


def _field_parts(candidate: Mapping[str, Any]) -> Any:
    content = candidate.get("content")
    return content.get("parts") if isinstance(content, Mapping) else None


def _json(body: str) -> Any:
    """The JSON of a body, or None: a malformed body is the provider's failure, which the SDK
    reports to the caller, not aither's."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _first_vector_length(body: str) -> int | None:
    """The length of the first embedding in a response body, read from the text itself: an
    embedding response can be megabytes, and only its shape is needed."""
    start = body.find('"values"')
    if start < 0:
        return None
    open_at = body.find("[", start)
    close_at = body.find("]", open_at)
    if open_at < 0 or close_at < 0:
        return None
    inner = body[open_at + 1 : close_at].strip()
    return inner.count(",") + 1 if inner else 0


def _first_vector(data: object) -> object:
    """The first embedding's values of an ``embedContent``, ``batchEmbedContents`` or Vertex AI
    ``predict`` response."""
    if not isinstance(data, Mapping):
        return None
    embedding = data.get("embedding")
    if embedding is None:
        many = data.get("embeddings") or data.get("predictions")
        first = many[0] if isinstance(many, list) and many else None
        embedding = first.get("embeddings", first) if isinstance(first, Mapping) else None
    return embedding.get("values") if isinstance(embedding, Mapping) else None


def record_embedding(call: LLMCall, body: str, dimensions_requested: bool) -> None:
    if not dimensions_requested:
        call.set_attribute(semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, _first_vector_length(body))
    if call.runtime.settings.capture_embeddings:  # opt-in: the body is parsed for the vector
        encoded = captured_embedding(_first_vector(_json(body)))
        if encoded is not None:
            call.set_attribute(semconv.AITHER_EMBEDDING_PROMPT, encoded)
    if '"usageMetadata"' in body:  # only then is the body parsed
        data = _json(body)
        if isinstance(data, Mapping):
            record_usage(call, data.get("usageMetadata"))


class GenerationStreamRecorder(StreamRecorder):
    """Reads each chunk of a streamed generation (the SDK's ``HttpResponse`` holding one
    chunk's JSON) in O(chunk): id and model from any chunk, text kept up to a bound, finish
    reasons and usage from the chunks that carry them (the last)."""

    def __init__(self, capture: bool) -> None:
        self.model: str | None = None
        self.id: str | None = None
        self.usage: Any = None
        self.reasons: dict[int, str] = {}
        self.texts: dict[int, list[str]] = {}
        self.other_parts: dict[int, list[Any]] = {}
        self.left = max(_common.SCAN_MAX_CHARS, _common.CONTENT_MAX_CHARS if capture else 0)
        self.cut = False
        """True when output text went past the bound and was not kept."""

    def on_chunk(self, chunk: Any) -> bool:
        body = getattr(chunk, "body", None)
        if not body:
            return True
        data = _json(body)
        if not isinstance(data, Mapping):
            return True
        self.model = data.get("modelVersion") or self.model
        self.id = data.get("responseId") or self.id
        if "usageMetadata" in data:
            self.usage = data["usageMetadata"]
        for position, candidate in enumerate(_candidates(data)):
            index = candidate.get("index", position)
            if not isinstance(index, int) or index > 64:
                continue
            reason = candidate.get("finishReason")
            if isinstance(reason, str):
                self.reasons[index] = reason
            parts = _field_parts(candidate)
            for part in parts if isinstance(parts, list) else ():
                if not isinstance(part, Mapping):
                    continue
                text = part.get("text")
                if isinstance(text, str) and part.get("thought") is not True:
                    if len(text) > self.left:
                        self.cut = True
                    if self.left > 0:
                        self.texts.setdefault(index, []).append(text[: self.left])
                        self.left -= len(text)
                elif len(self.other_parts.setdefault(index, [])) < 64:
                    self.other_parts[index].append(part)
        return True

    def _messages(self, budget: TextBudget) -> list[dict[str, Any]]:
        found = []
        for index in sorted(set(self.texts) | set(self.other_parts) | set(self.reasons)):
            parts = [_part(p, budget) for p in self.other_parts.get(index, ())]
            text = "".join(self.texts.get(index, ()))
            if text:
                parts.insert(0, {"type": "text", "content": budget.text(text)})
            found.append({"role": "assistant", "parts": parts, "finish_reason": self.reasons.get(index)})
        return found

    def finish(self, call: LLMCall) -> None:
        reasons = [self.reasons[i] for i in sorted(self.reasons)]
        call.record_response(response_model=self.model, response_id=self.id, finish_reasons=reasons or None)
        record_usage(call, self.usage)
        call.record_output(texts=["".join(t) for _, t in sorted(self.texts.items())], messages=self._messages)
        if self.cut and call.capture:
            call.set_attribute(semconv.AITHER_LLM_CONTENT_TRUNCATED, True)


class _Stream(StreamProxy):
    """A stream whose caller stopped early is only ever dropped (see the module docstring)."""

    gc_end = _common.STREAM_CLOSED


class _AsyncStream(AsyncStreamProxy):
    gc_end = _common.STREAM_CLOSED


def _chunks_with_status(call: LLMCall, chunks: Iterator[Any]) -> Iterator[Any]:
    """``chunks`` unchanged; the sync SDK sends the request at the first ``next``, so an HTTP
    error (429, 500) surfaces here rather than at the call."""
    first = True
    try:
        for chunk in chunks:
            first = False
            yield chunk
    except BaseException as exc:
        if first:
            status = _PROVIDER.error_status(exc)
            if status is not None and status >= 400:
                call.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
        raise


class GeminiProvider(_hooks.Provider):
    """The REST wire format of ``google-genai``: ``request(method, path, body, ...)`` and its
    streamed and async twins, with the body in the API's JSON shape."""

    label = "a Gemini"

    def request(
        self, runtime: Runtime, site: _hooks.Site, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _hooks.Request | None:
        path = args[1] if len(args) > 1 else None
        if not isinstance(path, str):
            return None
        parsed = parse_path(path)
        if parsed is None:
            return None
        operation, model = parsed
        body = args[2] if len(args) > 2 and isinstance(args[2], Mapping) else {}
        stream = method.endswith("_streamed")
        call = start_call(runtime, site, site.extra, operation, model, body, stream)
        if call is None:
            return None
        state = (operation, embedding_dimensions(body) is not None)
        return _hooks.Request(self, call, args, kwargs, stream=stream, state=state)

    def record(self, call: LLMCall, request: _hooks.Request, response: Any) -> None:
        body = getattr(response, "body", None)
        if not isinstance(body, str) or not body:
            return
        operation, dimensions_requested = request.state
        if operation == semconv.GEN_AI_OPERATION_EMBEDDINGS:
            record_embedding(call, body, dimensions_requested)
            return
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as malformed:
            # The SDK will fail to parse it too, and raise its own error.
            call.fail(malformed)
            return
        if isinstance(data, Mapping):
            record_generation(call, data)

    def recorder(self, call: LLMCall, request: _hooks.Request) -> StreamRecorder:
        return GenerationStreamRecorder(call.capture)

    def wrap_stream(self, call: LLMCall, request: _hooks.Request, stream: Any, *, is_async: bool) -> Any:
        recorder = self.recorder(call, request)
        if is_async:
            return _AsyncStream(stream, call, recorder)
        return _Stream(_chunks_with_status(call, stream), call, recorder)

    def error_status(self, exc: BaseException) -> int | None:
        """The HTTP status of the SDK's ``APIError`` (its ``code``)."""
        code = getattr(exc, "code", None)
        return code if is_int(code) and _is_api_error(exc) else None


_PROVIDER = GeminiProvider()


def _is_api_error(exc: BaseException) -> bool:
    from google.genai import errors

    return isinstance(exc, errors.APIError)


def instrument_client(client: Any, context: WrapContext) -> Any:
    """Hook the request methods of ``client``'s ``BaseApiClient`` (shared with ``client.aio``)
    and set ``client._aither_uninstrument``."""
    api_client = client._api_client
    if getattr(api_client, "_aither_hooks", None) is not None:
        return client  # its twin (client.aio, or the client of this aio) is already wrapped
    try:
        server = _hooks.server_attributes(api_client._http_options.base_url or "")
    except Exception:  # no base URL to read: no server attributes
        server = {}
    # Gemini on Vertex AI is ``genai.Client(vertexai=True)``.
    provider = providers.GCP_VERTEX_AI if getattr(api_client, "vertexai", False) else providers.GCP_GEMINI
    site = _hooks.Site(context, server, provider)
    _hooks.install(client, _HOOKED, _PROVIDER, site, target=api_client)
    api_client._aither_hooks = site
    undo = client._aither_uninstrument

    def uninstrument() -> None:
        undo()
        api_client.__dict__.pop("_aither_hooks", None)

    client._aither_uninstrument = uninstrument
    return client


class GeminiAdapter(Adapter):
    """``google.genai.Client`` and its ``AsyncClient`` (``client.aio``), instrumented in place."""

    framework = "gemini"
    extra = "gemini"
    methods = ("models",)

    def traced_methods(self, model: Any) -> frozenset[str]:
        api_client = getattr(model, "_api_client", None)
        return (
            frozenset({"models"})
            if api_client is not None and callable(getattr(api_client, "request", None))
            else frozenset()
        )

    def instrument(self, obj: Any, context: WrapContext) -> Any | None:
        return instrument_client(obj, context)
