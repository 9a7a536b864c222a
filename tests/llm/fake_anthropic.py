"""A local server that speaks the Anthropic Messages API, for the official ``anthropic`` client.

``POST /v1/messages`` answers a Message as JSON, or (``"stream": true``) Server-Sent Events:
``message_start`` (id, model, input usage), then per content block ``content_block_start``,
``content_block_delta``..., ``content_block_stop``, then ``message_delta`` (stop reason, the
cumulative output usage) and ``message_stop``; ``ping`` may come anywhere, and ``error``
ends a stream that failed after it began. Errors are ``{"type": "error", "error": {...}}``.
See https://docs.anthropic.com/en/api/messages and .../messages-streaming.
"""

from __future__ import annotations

from typing import Any

from .wire import Reply, WireServer, json_reply, sse_event, sse_reply

MODEL = "claude-haiku-4-5"
"""A model the price table knows and the SDK does not warn about."""

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def message(
    text: str = "Hello there!",
    *,
    model: str = MODEL,
    id: str = "msg_01",
    stop_reason: str | None = "end_turn",
    input_tokens: int = 12,
    output_tokens: int = 5,
    cache_read: int | None = None,
    cache_creation: int | None = None,
    content: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Message as the API answers it."""
    usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if cache_read is not None:
        usage["cache_read_input_tokens"] = cache_read
    if cache_creation is not None:
        usage["cache_creation_input_tokens"] = cache_creation
    return {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content if content is not None else [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def event(name: str, data: dict[str, Any]) -> bytes:
    """One event as the API sends it: its name on the ``event:`` line and as ``type``."""
    return sse_event({"type": name, **data}, event=name)


def stream_events(
    deltas: tuple[str, ...] = ("Hel", "lo ", "there!"),
    *,
    model: str = MODEL,
    id: str = "msg_02",
    stop_reason: str = "end_turn",
    input_tokens: int = 12,
    output_tokens: int = 5,
    cache_read: int | None = None,
    cache_creation: int | None = None,
) -> list[bytes]:
    """The events of a streamed text Message: input and cache usage (and a placeholder output
    count of 1) in ``message_start``, the final output count in ``message_delta``."""
    start = message(
        model=model,
        id=id,
        stop_reason=None,
        input_tokens=input_tokens,
        output_tokens=1,
        cache_read=cache_read,
        cache_creation=cache_creation,
        content=[],
    )
    events = [
        event("message_start", {"message": start}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        event("ping", {}),
    ]
    events += [
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": d}}) for d in deltas
    ]
    events += [
        event("content_block_stop", {"index": 0}),
        event(
            "message_delta",
            {
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        event("message_stop", {}),
    ]
    return events


def error_body(status: int) -> dict[str, Any]:
    """The API's error envelope for an HTTP status."""
    return {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": f"scripted {status}"},
    }


def error_event(status: int = 529) -> bytes:
    """An ``error`` event, as the API sends when a stream fails after it began."""
    return sse_event(error_body(status), event="error")


class FakeAnthropic(WireServer):
    """A :class:`~tests.llm.wire.WireServer` with replies in Anthropic's wire format."""

    def reply_message(self, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Queue a Message (``body``, or :func:`message` of ``kwargs``); returns it."""
        found = body if body is not None else message(**kwargs)
        self.add(json_reply(found, headers={"request-id": "req_01"}))
        return found

    def reply_stream(
        self, events: list[bytes] | None = None, *, drop_after: int | None = None, **kwargs: Any
    ) -> None:
        """Queue a streamed Message (``events``, or :func:`stream_events` of ``kwargs``)."""
        self.add(sse_reply(events if events is not None else stream_events(**kwargs), drop_after=drop_after))

    def reply_error(self, status: int) -> Reply:
        reply = json_reply(error_body(status), status=status)
        self.add(reply)
        return reply
