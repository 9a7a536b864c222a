"""OpenAI's wire format, scripted for a local fake server (:class:`FakeOpenAI`).

- ``POST /v1/chat/completions``: a ChatCompletion as JSON, or with ``"stream": true`` SSE
  ``data: <chunk>`` events then ``data: [DONE]``. As the real API does, when the request has
  ``stream_options.include_usage`` every chunk carries ``"usage": null`` and one last chunk
  with no choices carries the usage (https://platform.openai.com/docs/api-reference/chat/streaming).
- ``POST /v1/responses``: a Response as JSON, or SSE events ``response.created``,
  ``response.output_text.delta``..., ``response.completed`` (which holds the usage).
- ``POST /v1/embeddings``: a list of embeddings (as floats, or base64 when asked, which is
  what the SDK asks for by default).
- Errors: ``{"error": {"message", "type", "code"}}`` with 429, 500...
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

from .wire import Reply, Request, WireServer, json_reply, sse_event, sse_reply

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
CREATED = 1_700_000_000


class FakeOpenAI(WireServer):
    """A :class:`WireServer` whose ``url`` is the API's base (``.../v1``)."""

    @property
    def url(self) -> str:
        return self.base + "/v1"

    def chat(self, times: int = 1, **kwargs: Any) -> None:
        """Queue a ChatCompletion (see :func:`chat_completion`)."""
        self.add(json_reply(chat_completion(**kwargs)), times)

    def chat_stream(self, times: int = 1, **kwargs: Any) -> None:
        """Queue a streamed chat completion (see :func:`chat_stream_reply`)."""
        self.add(lambda request: chat_stream_reply(request, **kwargs), times)

    def error(self, status: int, message: str = "boom", times: int = 1, code: str | None = None) -> None:
        self.add(error_reply(status, message, code), times)


def usage(prompt: int = 12, completion: int = 5, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_completion(
    text: str | None = "Hello there!",
    *,
    model: str = RESPONSE_MODEL,
    id: str = "chatcmpl-1",
    finish_reason: str = "stop",
    n: int = 1,
    tool_calls: list[dict[str, Any]] | None = None,
    refusal: str | None = None,
    usage_: dict[str, Any] | None = None,
    service_tier: str | None = "default",
    system_fingerprint: str | None = "fp_1",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": refusal, "annotations": []}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {"index": i, "message": message, "logprobs": None, "finish_reason": finish_reason}
            for i in range(n)
        ],
        "usage": usage_ if usage_ is not None else usage(),
        "service_tier": service_tier,
        "system_fingerprint": system_fingerprint,
    }


def chat_chunks(
    pieces: Sequence[str] = ("Hel", "lo", " there!"),
    *,
    model: str = RESPONSE_MODEL,
    id: str = "chatcmpl-2",
    finish_reason: str = "stop",
    tool_call: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The chunks of a streamed completion, without usage: a role chunk, one per piece, then
    the finish reason."""

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        return {
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
        }

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    chunks += [chunk({"content": piece}) for piece in pieces]
    if tool_call is not None:
        chunks.append(chunk({"tool_calls": [tool_call]}))
    chunks.append(chunk({}, finish_reason))
    return chunks


def chat_stream_reply(
    request: Request,
    pieces: Sequence[str] = ("Hel", "lo", " there!"),
    *,
    usage_: dict[str, Any] | None = None,
    drop_after: int | None = None,
    malformed_at: int | None = None,
    **kwargs: Any,
) -> Reply:
    """A streamed completion answering ``request``: with usage when it asked for it."""
    chunks = chat_chunks(pieces, **kwargs)
    body = request.json() or {}
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events: list[bytes] = []
    for c in chunks:
        if include_usage:
            c = {**c, "usage": None}
        events.append(sse_event(c))
    if include_usage:
        final = {**chunks[-1], "choices": [], "usage": usage_ if usage_ is not None else usage()}
        events.append(sse_event(final))
    if malformed_at is not None:
        events.insert(malformed_at, b'data: {"id": "chatcmpl-2", "choices": [\n\n')
    return sse_reply(events, done=True, drop_after=drop_after)


def error_reply(status: int, message: str = "boom", code: str | None = None) -> Reply:
    kind = {429: "rate_limit_exceeded", 400: "invalid_request_error", 401: "invalid_api_key"}
    return json_reply(
        {
            "error": {
                "message": message,
                "type": kind.get(status, "server_error"),
                "param": None,
                "code": code,
            }
        },
        status=status,
        headers={"x-request-id": "req_1"},
    )


def response(
    text: str = "Hello there!",
    *,
    model: str = "gpt-4.1-mini-2025-04-14",
    id: str = "resp_1",
    status: str = "completed",
    input_tokens: int = 20,
    output_tokens: int = 8,
    cached: int = 0,
    reasoning: int = 0,
    function_call: dict[str, Any] | None = None,
) -> dict[str, Any]:
    output: list[dict[str, Any]] = [
        {
            "id": "msg_1",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
        }
    ]
    if function_call is not None:
        output.append({"type": "function_call", "status": "completed", "id": "fc_1", **function_call})
    return {
        "id": id,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "service_tier": "default",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def response_events(pieces: Sequence[str] = ("Hel", "lo", " there!"), **kwargs: Any) -> list[dict[str, Any]]:
    """The events of a streamed Response, in the API's order: created, the message item and its
    text part added, one text delta per piece, the text, part and item done, completed."""
    final = response("".join(pieces), **kwargs)
    created = {**final, "status": "in_progress", "output": [], "usage": None}
    message = final["output"][0]
    text = "".join(pieces)
    empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    where = {"item_id": message["id"], "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": created},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **where, "part": empty_part},
    ]
    events += [
        {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []} for piece in pieces
    ]
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": {**empty_part, "text": text}},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {
            "type": "response.completed" if final["status"] == "completed" else f"response.{final['status']}",
            "response": final,
        },
    ]
    return [{**event, "sequence_number": i} for i, event in enumerate(events)]


def response_stream_reply(pieces: Sequence[str] = ("Hel", "lo", " there!"), **kwargs: Any) -> Reply:
    return sse_reply(
        [sse_event(e, event=e["type"]) for e in response_events(pieces, **kwargs)],
    )


def embeddings(request: Request, dimensions: int = 4, prompt_tokens: int = 6) -> Reply:
    """Embeddings for each input of ``request``, encoded as it asked (floats or base64)."""
    body = request.json()
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = []
    for i, _ in enumerate(inputs):
        vector = [round(0.1 * (i + 1) * (j + 1), 3) for j in range(dimensions)]
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    return json_reply(
        {
            "object": "list",
            "data": data,
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )
