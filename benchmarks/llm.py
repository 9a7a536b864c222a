"""Overhead of a wrapped OpenAI client, per call and per streamed chunk.

The official ``openai`` client talks to a local server in another process that answers a
chat completion (JSON) and a 100-chunk stream (SSE) as OpenAI does; the same requests are
timed with the plain client, with the client wrapped by aither, and with two hand-written
OpenTelemetry spans: one carrying only the GenAI request and response attributes
(:func:`handwritten`), and one carrying the same attributes as aither's span, every key and
value (:func:`handwritten_same`: the cost, the usage details, the scans' findings). aither and
the hand-written spans export over OTLP/HTTP to the same receiver (``benchmarks.sink``).
Content capture is off (the default); PII and injection scanning run, as they do by default.

    python -m benchmarks.llm [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ._common import ROOT, otel_tracer, quiet_env, sink, table

CHUNKS = 100
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer in one short paragraph."},
    {"role": "user", "content": "What is the capital of France, and what is it known for?"},
]
_USAGE = {
    "prompt_tokens": 31,
    "completion_tokens": 100,
    "total_tokens": 131,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}
_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris. " * 40, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _USAGE,
        "service_tier": "default",
        "system_fingerprint": "fp_1",
    }
).encode()


def _chunk(delta: dict[str, Any], reason: str | None = None, usage: bool = False) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
    }
    if usage:
        chunk["usage"] = None
    return chunk


def _stream_body(include_usage: bool) -> bytes:
    chunks = [_chunk({"role": "assistant", "content": ""}, usage=include_usage)]
    chunks += [_chunk({"content": f"word{i} "}, usage=include_usage) for i in range(CHUNKS - 2)]
    chunks.append(_chunk({}, "stop", usage=include_usage))
    if include_usage:
        chunks.append({**_chunk({}), "choices": [], "usage": _USAGE})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


_STREAMS = {False: _stream_body(False), True: _stream_body(True)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle and delayed ACKs hold the
        # body back ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if body.get("stream"):
            payload = _STREAMS[bool((body.get("stream_options") or {}).get("include_usage"))]
            content_type = "text/event-stream"
        else:
            payload, content_type = _COMPLETION, "application/json"
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def serve(port_file: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


@contextmanager
def fake_openai() -> Iterator[str]:
    """The fake OpenAI server in a subprocess (so it does not share our GIL); yields its URL."""
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.llm", "--serve", str(port_file)], cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text()):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the fake OpenAI server did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port_file.read_text()}/v1"
        finally:
            proc.terminate()
            proc.wait(10)


def _usage_stream(client: Any) -> Callable[[], Any]:
    """A call that opens the benchmark's stream on ``client``, asking for its usage."""
    return lambda: client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )


def handwritten(
    tracer: Any,
    client: Any,
    create: Callable[[], Any] | None = None,
    stream: Callable[[], Any] | None = None,
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """What a careful user writes by hand: a CLIENT span with the GenAI request and response
    attributes, usage read from the response (or the stream's last chunk). ``create`` and
    ``stream``, when given, make the chat completion's and the stream's request (asking for
    usage) in place of ``client.chat.completions.create``."""
    from opentelemetry.trace import SpanKind

    static = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
    }

    def call() -> Any:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=static
        ) as span:
            r = create() if create else client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            span.set_attribute("gen_ai.response.model", r.model)
            span.set_attribute("gen_ai.response.id", r.id)
            span.set_attribute("gen_ai.response.finish_reasons", [c.finish_reason for c in r.choices])
            span.set_attribute("gen_ai.usage.input_tokens", r.usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", r.usage.completion_tokens)
            return r

    open_stream = stream or _usage_stream(client)

    def consume() -> Any:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={**static, "gen_ai.request.stream": True}
        ) as span:
            n = 0
            for chunk in open_stream():
                n += 1
                if chunk.usage is not None:
                    span.set_attribute("gen_ai.usage.input_tokens", chunk.usage.prompt_tokens)
                    span.set_attribute("gen_ai.usage.output_tokens", chunk.usage.completion_tokens)
            span.set_attribute("aither.llm.stream.chunks", n)
            return n

    return call, consume


# gpt-4o-mini's price per token (input, output), as the genai-prices table has it: what a
# careful user who prices calls by hand keeps in their code.
_PRICE = (0.15e-6, 0.6e-6)


def handwritten_same(
    tracer: Any,
    client: Any,
    create: Callable[[], Any] | None = None,
    stream: Callable[[], Any] | None = None,
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The hand-written span carrying the same attributes as aither's (22 on a chat
    completion, 26 on a stream: every key and value alike), as a careful user would compute
    them: usage details, service tier and fingerprint read from the response, the server's
    address, time to first chunk, the cost from a price kept in the code (the cheapest way to
    price by hand), and the prompt-injection score and PII counts from the same scanners aither
    runs, over the same texts (no cheaper scanner gives the same attributes). Everything runs
    on the caller's thread, as a hand-written span's code does; ``create`` and ``stream`` as in
    :func:`handwritten`."""
    from opentelemetry.trace import SpanKind

    from aither.adapters.llm import injection, pii
    from aither.adapters.llm._text import SCAN_MAX_CHARS
    from aither.schema import semconv as s

    prompt = [m["content"] for m in MESSAGES if m["role"] != "system"]
    system = [m["content"] for m in MESSAGES if m["role"] == "system"]
    static = {
        s.AITHER_SPAN_KIND: s.SPAN_KIND_LLM,
        s.AITHER_SCHEMA_VERSION: s.SCHEMA_VERSION,
        s.GEN_AI_OPERATION_NAME: "chat",
        s.GEN_AI_PROVIDER_NAME: "openai",
        s.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        s.AITHER_LLM_CLIENT_NAME: "bench",
        s.SERVER_ADDRESS: client.base_url.host,
        s.SERVER_PORT: client.base_url.port,
    }

    def findings(usage: Any, outputs: list[str]) -> dict[str, Any]:
        score, rules = injection.score(prompt, SCAN_MAX_CHARS)
        attrs: dict[str, Any] = {
            s.AITHER_INJECTION_SCORE: score,
            s.AITHER_INJECTION_DETECTED: score >= injection.THRESHOLD,
        }
        if rules:
            attrs[s.AITHER_INJECTION_RULES] = rules
        for prefix, texts in (
            (s.AITHER_PII_INPUT_PREFIX, prompt + system),
            (s.AITHER_PII_OUTPUT_PREFIX, outputs),
        ):
            counts, _ = pii.count(texts, SCAN_MAX_CHARS)
            for kind, n in counts.items():
                if n:
                    attrs[prefix + kind] = n
                    attrs[s.AITHER_PII_DETECTED] = True
        attrs[s.GEN_AI_USAGE_INPUT_TOKENS] = usage.prompt_tokens
        attrs[s.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.completion_tokens
        attrs[s.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.prompt_tokens_details.cached_tokens
        attrs[s.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.completion_tokens_details.reasoning_tokens
        attrs[s.AITHER_COST_USD] = usage.prompt_tokens * _PRICE[0] + usage.completion_tokens * _PRICE[1]
        attrs[s.AITHER_COST_SOURCE] = "genai-prices 0.2.3"
        attrs[s.AITHER_COST_PRICE_MODEL] = "gpt-4o-mini"
        return attrs

    def call() -> Any:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=static
        ) as span:
            r = create() if create else client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            attrs = findings(r.usage, [c.message.content for c in r.choices if c.message.content])
            attrs[s.GEN_AI_RESPONSE_MODEL] = r.model
            attrs[s.GEN_AI_RESPONSE_ID] = r.id
            attrs[s.GEN_AI_RESPONSE_FINISH_REASONS] = [c.finish_reason for c in r.choices]
            attrs[s.OPENAI_RESPONSE_SERVICE_TIER] = r.service_tier
            attrs[s.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = r.system_fingerprint
            span.set_attributes(attrs)
            return r

    open_stream = stream or _usage_stream(client)

    def consume() -> Any:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={**static, s.GEN_AI_REQUEST_STREAM: True}
        ) as span:
            start = time.monotonic_ns()
            first: int | None = None
            n = 0
            texts: list[str] = []
            size = 0
            reasons: list[str] = []
            last: Any = None
            usage: Any = None
            for chunk in open_stream():
                if first is None:
                    first = time.monotonic_ns()
                if chunk.usage is not None:
                    usage = chunk.usage
                    if not chunk.choices:  # the usage chunk asked for: not one of the stream's
                        continue
                n += 1
                last = chunk
                for choice in chunk.choices:
                    text = choice.delta.content
                    if text and size < SCAN_MAX_CHARS:
                        texts.append(text)
                        size += len(text)
                    if choice.finish_reason is not None:
                        reasons.append(choice.finish_reason)
            attrs = findings(usage, ["".join(texts)])
            attrs[s.GEN_AI_RESPONSE_MODEL] = last.model
            attrs[s.GEN_AI_RESPONSE_ID] = last.id
            attrs[s.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
            attrs[s.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = last.system_fingerprint
            attrs[s.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ((first or start) - start) / 1e9
            attrs[s.AITHER_LLM_STREAM_CHUNKS] = n
            attrs[s.AITHER_LLM_STREAM_END] = "completed"
            attrs[s.AITHER_LLM_STREAM_USAGE_REQUESTED] = True
            span.set_attributes(attrs)
            return n

    return call, consume


def interleaved_medians(fns: list[Callable[[], Any]], repeat: int, warmup: int = 30) -> list[float]:
    """Median ns of each of ``fns``, timed in turn call by call, so drift of a busy machine
    affects all of them alike."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times: list[list[int]] = [[] for _ in fns]
    clock = time.perf_counter_ns
    for _ in range(repeat):
        for fn, bucket in zip(fns, times):
            start = clock()
            fn()
            bucket.append(clock() - start)
    return [statistics.median(t) for t in times]


def chunk_proxy_cost(client: Any, repeat: int) -> tuple[float, float]:
    """ns per chunk of iterating 100 parsed chunks plainly, and through aither's stream proxy
    with the OpenAI recorder (no network: the proxy's own cost per chunk)."""
    from openai.types.chat import ChatCompletionChunk

    from aither.adapters.llm._common import LLMCall
    from aither.adapters.llm._openai_messages import ChatRecorder

    runtime = client._active_runtime()
    body = _STREAMS[True].split(b"\n\n")
    chunks = [
        ChatCompletionChunk.construct(**json.loads(line[len(b"data: ") :]))
        for line in body
        if line.startswith(b"data: {")
    ]

    def plain() -> None:
        for _ in iter(chunks):
            pass

    def proxied() -> None:
        call = LLMCall.start(
            runtime, operation="chat", provider="openai", request_model="gpt-4o-mini", stream=True
        )
        assert call is not None
        for _ in call.wrap_stream(iter(chunks), ChatRecorder("/chat/completions", True)):
            pass

    base = statistics.median(timeit.repeat(plain, number=1, repeat=repeat))
    ours = statistics.median(timeit.repeat(proxied, number=1, repeat=repeat))
    return base * 1e9 / len(chunks), ours * 1e9 / len(chunks)


def hook_cost(
    client: Any, tracer: Any, provider: Any, repeat: int, rounds: int = 5
) -> dict[str, list[float]]:
    """CPU per call, in µs, of a wrapped OpenAI client and of the hand-written span around a
    client whose ``request`` returns a parsed chat completion at once (no HTTP, no parsing:
    only what each adds), each round ending in a flush: ``{"<variant> <clock>": [µs per
    round]}``, the clock being the calling thread's CPU or the process's (export included)."""
    import openai
    from openai._models import FinalRequestOptions
    from openai.types.chat import ChatCompletion

    response = ChatCompletion.construct(**json.loads(_COMPLETION))

    class Instant(openai.OpenAI):
        """An OpenAI client whose every request is answered at once with the same completion."""

        def request(self, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
            return response

    instant = Instant(base_url="http://127.0.0.1:8000/v1", api_key="x", max_retries=0)
    wrapped = client.wrap(
        Instant(base_url="http://127.0.0.1:8000/v1", api_key="x", max_retries=0), name="bench"
    )
    options = FinalRequestOptions.construct(
        method="post", url="/chat/completions", json_data={"model": "gpt-4o-mini", "messages": MESSAGES}
    )
    # handwritten()'s call, around the same instantly answered request
    answer = lambda: instant.request(ChatCompletion, options, stream=False)  # noqa: E731
    lean, _ = handwritten(tracer, instant, answer)
    same, _ = handwritten_same(tracer, instant, answer)

    def ours() -> Any:
        return wrapped.request(ChatCompletion, options, stream=False)

    variants = {
        "hand (GenAI only)": (lean, provider.force_flush),
        "hand (same attributes)": (same, provider.force_flush),
        "aither": (ours, lambda: client.flush(30)),
    }
    return _cpu_rounds(variants, repeat, rounds)


def _cpu_rounds(
    variants: dict[str, tuple[Callable[[], Any], Callable[[], Any]]], repeat: int, rounds: int
) -> dict[str, list[float]]:
    """``repeat`` calls of each variant then its flush, in turn, ``rounds`` times: CPU µs a call
    of the calling thread and of the process, per round."""
    out: dict[str, list[float]] = {f"{v} {c}": [] for v in variants for c in ("thread", "process")}
    for _ in range(rounds):
        for name, (fn, flush) in variants.items():
            t0, p0 = time.thread_time_ns(), time.process_time_ns()
            for _ in range(repeat):
                fn()
            flush()
            out[f"{name} thread"].append((time.thread_time_ns() - t0) / repeat / 1000)
            out[f"{name} process"].append((time.process_time_ns() - p0) / repeat / 1000)
    return out


def stream_hook_cost(
    client: Any, tracer: Any, provider: Any, repeat: int, rounds: int = 5, *, parsed: bool = False
) -> dict[str, list[float]]:
    """As :func:`hook_cost`, for a 100-chunk stream (see :func:`instant_streams`): CPU µs a
    stream, of the plain client asking for usage (``raw``), the hand-written spans, and aither."""
    fns = instant_streams(client, tracer, parsed=parsed)
    flushes = {"raw": lambda: None, "aither": lambda: client.flush(30)}
    variants = {name: (fn, flushes.get(name, provider.force_flush)) for name, fn in fns.items()}
    return _cpu_rounds(variants, repeat, rounds)


def instant_streams(client: Any, tracer: Any, *, parsed: bool = False) -> dict[str, Callable[[], Any]]:
    """A 100-chunk stream consumed to the end, by variant: the client's ``request`` answers at
    once with the SDK's own ``Stream`` over the SSE body in memory (no HTTP; the SDK parses
    every chunk, as it does off the network). ``parsed``: the ``Stream`` yields chunks parsed
    once beforehand instead (the SDK's parsing, ~90 µs a chunk, is the same for every variant,
    and its noise hides what they add)."""
    import httpx
    import openai
    from openai import Stream
    from openai._models import FinalRequestOptions
    from openai.types.chat import ChatCompletionChunk

    request = httpx.Request("POST", "http://127.0.0.1:8000/v1/chat/completions")

    chunks = {
        usage: [
            ChatCompletionChunk.construct(**json.loads(line[len(b"data: ") :]))
            for line in body.split(b"\n\n")
            if line.startswith(b"data: {")
        ]
        for usage, body in _STREAMS.items()
    }

    class Parsed(Stream[ChatCompletionChunk]):
        """The SDK's ``Stream``, yielding chunks parsed beforehand."""

        def __stream__(self) -> Iterator[ChatCompletionChunk]:
            yield from self._aither_chunks  # type: ignore[attr-defined]

    class Instant(openai.OpenAI):
        """An OpenAI client whose every request is answered at once with the benchmark's stream."""

        def request(self, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
            usage = bool((options.json_data.get("stream_options") or {}).get("include_usage"))
            response = httpx.Response(
                200, content=_STREAMS[usage], headers={"content-type": "text/event-stream"}, request=request
            )
            if not parsed:
                return Stream(cast_to=ChatCompletionChunk, response=response, client=self)
            stream = Parsed.__new__(Parsed)
            stream._aither_chunks = chunks[usage]  # type: ignore[attr-defined]
            Stream.__init__(stream, cast_to=ChatCompletionChunk, response=response, client=self)
            return stream

    instant = Instant(base_url="http://127.0.0.1:8000/v1", api_key="x", max_retries=0)
    wrapped = client.wrap(
        Instant(base_url="http://127.0.0.1:8000/v1", api_key="x", max_retries=0), name="bench"
    )
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    plain_options = FinalRequestOptions.construct(method="post", url="/chat/completions", json_data=body)
    usage_options = FinalRequestOptions.construct(
        method="post",
        url="/chat/completions",
        json_data={**body, "stream_options": {"include_usage": True}},
    )

    def consume(c: Any, options: Any) -> Callable[[], Any]:
        return lambda: sum(1 for _ in c.request(ChatCompletionChunk, options, stream=True))

    answer = lambda: instant.request(ChatCompletionChunk, usage_options)  # noqa: E731
    return {
        "raw": consume(instant, usage_options),
        "hand (GenAI only)": handwritten(tracer, instant, stream=answer)[1],
        "hand (same attributes)": handwritten_same(tracer, instant, stream=answer)[1],
        "aither": consume(wrapped, plain_options),
    }


def run(repeat: int) -> str:
    import openai

    import aither

    quiet_env()
    rows: list[list[Any]] = []
    with sink() as sink_url, fake_openai() as api_url:
        client = aither.Client(api_key="bench", base_url=sink_url)
        tracer, provider = otel_tracer(sink_url)
        plain = openai.OpenAI(base_url=api_url, api_key="x", max_retries=0)
        hand_client = openai.OpenAI(base_url=api_url, api_key="x", max_retries=0)
        wrapped = client.wrap(openai.OpenAI(base_url=api_url, api_key="x", max_retries=0), name="bench")
        hand_call, hand_stream = handwritten(tracer, hand_client)
        same_call, same_stream = handwritten_same(tracer, hand_client)

        def call(c: Any) -> Callable[[], Any]:
            return lambda: c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

        def consume(c: Any, **extra: Any) -> Callable[[], Any]:
            return lambda: sum(
                1
                for _ in c.chat.completions.create(
                    model="gpt-4o-mini", messages=MESSAGES, stream=True, **extra
                )
            )

        assert consume(plain)() == consume(wrapped)() == CHUNKS  # the caller sees the same chunks
        with_usage = consume(plain, stream_options={"include_usage": True})
        raw, ours, hand, same = interleaved_medians(
            [call(plain), call(wrapped), hand_call, same_call], repeat
        )
        client.flush(30)
        provider.force_flush()
        call_overhead = ours - raw
        rows.append(["chat completion (1 call)", raw, ours - raw, hand - raw, same - raw])
        n = repeat // 4
        s_raw, s_ours, s_hand, s_same, s_usage = interleaved_medians(
            [consume(plain), consume(wrapped), hand_stream, same_stream, with_usage], n
        )
        client.flush(30)
        provider.force_flush()
        rows.append(
            [f"stream of {CHUNKS} chunks (1 call)", s_raw, s_ours - s_raw, s_hand - s_raw, s_same - s_raw]
        )
        rows.append(["  plain client asking for usage (+1 chunk)", s_raw, s_usage - s_raw, None, None])
        plain_chunk, proxy_chunk = chunk_proxy_cost(client, repeat)
        client.flush(30)
        hook = hook_cost(client, tracer, provider, repeat)
        stream_hook = stream_hook_cost(client, tracer, provider, max(1, repeat // 10))
        stats = client.stats()
        for c in (plain, hand_client, wrapped):
            c.close()
        client.close()
        provider.shutdown()
    text = table(
        [
            [
                label,
                f"{raw / 1000:.1f}",
                f"{ours / 1000:.1f}",
                "" if hand is None else f"{hand / 1000:.1f}",
                "" if same is None else f"{same / 1000:.1f}",
                f"{ours / raw * 100:.1f}%",
            ]
            for label, raw, ours, hand, same in rows
        ],
        [
            "workload",
            "raw call µs",
            "aither overhead µs",
            "hand-written, GenAI only µs",
            "hand-written, same attributes µs",
            "overhead / raw call",
        ],
    )
    # aither asks a stream for its usage, which costs the SDK one more chunk to parse; the
    # rest of the stream's overhead, less the per-call overhead, is aither's per chunk.
    per_chunk = (s_ours - s_usage - call_overhead) / CHUNKS
    text += f"\n\naither overhead per streamed chunk: {per_chunk / 1000:.2f} µs "
    text += "(stream overhead, less the usage chunk it asks for and the per-call overhead, over 100 chunks)"
    text += (
        f"\naither stream proxy, in memory: {(proxy_chunk - plain_chunk) / 1000:.2f} µs per chunk "
        f"over a plain iteration ({plain_chunk / 1000:.2f} µs), span start and end included"
    )
    text += "\nwhat each adds to an SDK call answered at once (no HTTP), CPU µs a call, "
    text += "median (min-max) of 5 rounds:"
    for key, values in hook.items():
        text += f"\n  {key}: {statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"
    text += f"\nthe same for a stream of {CHUNKS} chunks (the SDK's Stream over the body in memory):"
    for key, values in stream_hook.items():
        text += f"\n  {key}: {statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"
    text += f"\nmedians of {repeat} calls ({repeat // 4} streams); aither ledger: {stats}"
    return text


def hooks_only(repeat: int, rounds: int) -> str:
    """Only the in-memory measures (:func:`hook_cost`, :func:`stream_hook_cost`), no HTTP."""
    import aither

    quiet_env()
    with sink() as sink_url:
        client = aither.Client(api_key="bench", base_url=sink_url)
        tracer, provider = otel_tracer(sink_url)
        streams = max(1, repeat // 10)
        results = {
            "chat completion": hook_cost(client, tracer, provider, repeat, rounds),
            f"stream of {CHUNKS} chunks": stream_hook_cost(client, tracer, provider, streams, rounds),
            f"stream of {CHUNKS} chunks parsed beforehand": stream_hook_cost(
                client, tracer, provider, streams * 5, rounds, parsed=True
            ),
        }
        client.close()
        provider.shutdown()
    lines = [f"CPU µs a call answered at once (no HTTP), median (min-max) of {rounds} rounds:"]
    for label, out in results.items():
        lines.append(label)
        lines += [f"  {k}: {statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})" for k, v in out.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hooks-only", action="store_true", help="only the in-memory hook costs")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.hooks_only:
        print(hooks_only(args.repeat, args.rounds))
        return
    print(run(args.repeat))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
