"""A local server that speaks the Gemini API's REST wire format, for ``google-genai``.

``POST /{version}/models/{model}:generateContent`` (the SDK picks the version) answers a
GenerateContentResponse as JSON; ``:streamGenerateContent?alt=sse`` answers Server-Sent
Events, a ``data:`` line of a GenerateContentResponse each, with ``usageMetadata`` and
``finishReason`` on the last; ``:batchEmbedContents`` answers ``{"embeddings": [{"values":
[...]}, ...]}``. Errors are ``{"error": {"code", "message", "status"}}``.
See https://ai.google.dev/api/generate-content and https://ai.google.dev/api/embeddings.
"""

from __future__ import annotations

import json
from typing import Any

from .wire import Reply, WireServer, json_reply, sse_reply

MODEL = "gemini-2.5-flash"
"""A model the price table knows."""
EMBED_MODEL = "gemini-embedding-001"

_STATUSES = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def usage(
    prompt: int = 9, candidates: int = 4, *, cached: int | None = None, thoughts: int | None = None
) -> dict[str, Any]:
    """``usageMetadata``: the prompt count includes cached tokens; thoughts are apart from
    the candidates' count."""
    found: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + (thoughts or 0),
    }
    if cached is not None:
        found["cachedContentTokenCount"] = cached
    if thoughts is not None:
        found["thoughtsTokenCount"] = thoughts
    return found


def response(
    text: str = "Hello there!",
    *,
    model: str = MODEL,
    id: str = "resp-01",
    finish_reason: str | None = "STOP",
    usage_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A GenerateContentResponse as the API answers it (usage: :func:`usage` unless given)."""
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    return {
        "candidates": [candidate],
        "usageMetadata": usage_metadata if usage_metadata is not None else usage(),
        "modelVersion": model,
        "responseId": id,
    }


def stream_chunks(
    deltas: tuple[str, ...] = ("Hel", "lo ", "there!"),
    *,
    model: str = MODEL,
    id: str = "resp-02",
    finish_reason: str = "STOP",
    usage_metadata: dict[str, Any] | None = None,
) -> list[bytes]:
    """A streamed response, one SSE event per delta; the last carries finish reason and usage."""
    last = len(deltas) - 1
    chunks = []
    for i, delta in enumerate(deltas):
        chunk = response(delta, model=model, id=id, finish_reason=finish_reason if i == last else None)
        if i == last:
            chunk["usageMetadata"] = usage_metadata if usage_metadata is not None else usage()
        else:
            del chunk["usageMetadata"]
        chunks.append(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
    return chunks


def embeddings(*vectors: list[float]) -> dict[str, Any]:
    return {"embeddings": [{"values": list(v)} for v in vectors]}


def error_body(status: int) -> dict[str, Any]:
    return {
        "error": {"code": status, "message": f"scripted {status}", "status": _STATUSES.get(status, "UNKNOWN")}
    }


class FakeGemini(WireServer):
    """A :class:`~tests.llm.wire.WireServer` with replies in the Gemini API's wire format."""

    def reply_response(self, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        found = body if body is not None else response(**kwargs)
        self.add(json_reply(found))
        return found

    def reply_stream(
        self, chunks: list[bytes] | None = None, *, drop_after: int | None = None, **kwargs: Any
    ) -> None:
        self.add(sse_reply(chunks if chunks is not None else stream_chunks(**kwargs), drop_after=drop_after))

    def reply_embeddings(self, *vectors: list[float]) -> dict[str, Any]:
        found = embeddings(*vectors)
        self.add(json_reply(found))
        return found

    def reply_error(self, status: int) -> Reply:
        reply = json_reply(error_body(status), status=status)
        self.add(reply)
        return reply
