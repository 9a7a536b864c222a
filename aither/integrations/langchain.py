"""LangChain: a callback handler that records chains, chat models and tools as aither spans.

``aither.langchain_handler()`` (or ``AitherCallbackHandler()``) goes where LangChain takes
callbacks: ``chain.invoke(inputs, config={"callbacks": [handler]})``. Each run becomes one span,
nested by LangChain's own parent run ids, so a chain, its chat model calls and its tools form
one trace:

- a chain or any runnable: a ``function`` span, ``aither.span.type`` = ``chain``, with its
  inputs and outputs (``aither.input``/``aither.output``);
- a chat model or an LLM: the GenAI span a wrapped client makes (``gen_ai.*``, ``aither.span.kind``
  = ``llm``, through the same code): model, provider (LangChain's ``ls_provider``), token usage,
  finish reasons, cost from the price table, PII and injection scans, content only with
  ``capture_content``;
- a tool: a ``function`` span of type ``tool``; a retriever: of type ``retrieval``.

A run with no parent run nests under the span current where LangChain was called. Errors end
the run's span with status ERROR. The handler never raises into LangChain because of aither
(its own errors are counted as aither's internal errors).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import trace

from .._client import default_runtime_lazy
from ..adapters.llm._common import LLMCall, TextBudget
from ..adapters.llm._hooks import is_number, text_message
from ..schema import semconv
from ..tracing.spans import AitherSpan

if TYPE_CHECKING:
    from .._client import Client
    from .._runtime import Runtime

_PROVIDERS = {
    "google_genai": "gcp.gemini",
    "google_vertexai": "gcp.vertex_ai",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
}
"""LangChain's ``ls_provider`` -> ``gen_ai.provider.name`` where they differ."""

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


def _text(content: Any) -> str:
    """A message's text: its string, or its text blocks joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            block
            if isinstance(block, str)
            else str(block.get("text", ""))
            if isinstance(block, Mapping)
            else ""
            for block in content
        )
    return ""


def _name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, Mapping):
        if isinstance(serialized.get("name"), str) and serialized["name"]:
            return str(serialized["name"])
        ident = serialized.get("id")
        if isinstance(ident, list) and ident:
            return str(ident[-1])
    return default


class AitherCallbackHandler(BaseCallbackHandler):
    """Records LangChain runs as aither spans; see the module docstring.

    Args:
        client: the :class:`aither.Client` to record with (default: the default client, looked
            up at each run).

    Threading: one handler may serve concurrent runs (sync or async); each run's span is
    kept by its run id.

    Example:
        >>> handler = aither.langchain_handler()                           # doctest: +SKIP
        >>> chain.invoke({"q": "hi"}, config={"callbacks": [handler]})   # doctest: +SKIP
    """

    raise_error = False  # LangChain logs a handler's exception and carries on

    def __init__(self, client: Client | None = None) -> None:
        super().__init__()
        # The same lookup the proxies and LLM hooks ask, at each run: the default client's is
        # looked up then too, so a handler made before ``aither.init()`` records once it runs.
        self._lookup = client.runtime_lookup() if client is not None else default_runtime_lazy
        self._lock = threading.Lock()
        self._runs: dict[UUID, AitherSpan | LLMCall] = {}

    # -- plumbing ----------------------------------------------------------------------------
    def _runtime(self) -> Runtime | None:
        return self._lookup()

    def _parent(self, parent_run_id: UUID | None) -> Any:
        if parent_run_id is None:
            return None
        with self._lock:
            run = self._runs.get(parent_run_id)
        if isinstance(run, AitherSpan):
            span = run.otel_span
        elif isinstance(run, LLMCall):
            span = run.span
        else:
            return None
        return trace.set_span_in_context(span) if span is not None else None

    def _pop(self, run_id: UUID) -> AitherSpan | LLMCall | None:
        with self._lock:
            return self._runs.pop(run_id, None)

    def _open(
        self, kind: str, name: str, run_id: UUID, parent_run_id: UUID | None, input: Any, metadata: Any
    ) -> None:
        runtime = self._runtime()
        if runtime is None:
            return
        try:
            meta = (
                {k: v for k, v in metadata.items() if not str(k).startswith(("ls_", "lc_"))}
                if metadata
                else None
            )
            handle = AitherSpan(
                runtime,
                name,
                kind=semconv.SPAN_KIND_FUNCTION,
                span_type=kind,
                metadata=meta or None,
                input=input,
            )
            handle.start(attach=False, parent=self._parent(parent_run_id))
            with self._lock:
                self._runs[run_id] = handle
        except Exception as exc:
            runtime.internal_error(exc, f"recording a LangChain {kind}")

    def _close(self, run_id: UUID, output: Any = None, error: BaseException | None = None) -> None:
        run = self._pop(run_id)
        if not isinstance(run, AitherSpan):
            return
        try:
            if error is None and output is not None:
                run.set_output(output)
        finally:
            run.end(error)

    # -- chains --------------------------------------------------------------------------------
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._open("chain", _name(serialized, kwargs, "chain"), run_id, parent_run_id, inputs, metadata)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, outputs)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error=error)

    on_tool_error = on_retriever_error = on_chain_error  # a failed run ends the same way, whatever it ran

    # -- tools and retrievers ----------------------------------------------------------------
    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = _name(serialized, kwargs, "tool")
        self._open("tool", name, run_id, parent_run_id, inputs if inputs is not None else input_str, metadata)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, output)

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = _name(serialized, kwargs, "retriever")
        self._open("retrieval", name, run_id, parent_run_id, {"query": query}, metadata)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, [_text(getattr(d, "page_content", "")) for d in documents])

    # -- models --------------------------------------------------------------------------------
    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        batch = messages[0] if messages else []
        turns = [
            (_ROLES.get(str(getattr(m, "type", "")), "user"), _text(getattr(m, "content", ""))) for m in batch
        ]
        self._start_model(semconv.GEN_AI_OPERATION_CHAT, turns, run_id, parent_run_id, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        turns = [("user", p) for p in prompts[:1]]
        self._start_model(
            semconv.GEN_AI_OPERATION_TEXT_COMPLETION, turns, run_id, parent_run_id, metadata, kwargs
        )

    def _start_model(
        self,
        operation: str,
        turns: list[tuple[str, str]],
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        runtime = self._runtime()
        if runtime is None:
            return
        try:
            meta = metadata or {}
            params = kwargs.get("invocation_params") or {}
            model = meta.get("ls_model_name") or params.get("model") or params.get("model_name")
            provider = str(meta.get("ls_provider") or "")
            attributes: dict[str, Any] = {
                semconv.GEN_AI_REQUEST_TEMPERATURE: meta.get("ls_temperature", params.get("temperature")),
                semconv.GEN_AI_REQUEST_MAX_TOKENS: meta.get("ls_max_tokens", params.get("max_tokens")),
            }
            attributes = {k: v for k, v in attributes.items() if is_number(v)}

            def messages(budget: TextBudget) -> list[dict[str, Any]]:
                return [text_message(role, text, budget) for role, text in turns if role != "system"]

            def system(budget: TextBudget) -> list[dict[str, Any]]:
                return [
                    {"type": "text", "content": budget.text(text)} for role, text in turns if role == "system"
                ]

            call = LLMCall.start(
                runtime,
                operation=operation,
                provider=_PROVIDERS.get(provider, provider),
                request_model=str(model) if model else None,
                attributes=attributes,
                input_texts=[text for role, text in reversed(turns) if role != "system"],
                system_texts=[text for role, text in turns if role == "system"],
                input_messages=messages,
                system_instructions=system if any(role == "system" for role, _ in turns) else None,
                parent=self._parent(parent_run_id),
            )
            if call is not None:
                with self._lock:
                    self._runs[run_id] = call
        except Exception as exc:
            runtime.internal_error(exc, "recording a LangChain model call")

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._pop(run_id)
        if not isinstance(call, LLMCall):
            return
        try:
            generations = response.generations[0] if response.generations else []
            first = generations[0] if generations else None
            message = getattr(first, "message", None)
            response_meta = getattr(message, "response_metadata", None) or {}
            info = getattr(first, "generation_info", None) or {}
            reason = (
                response_meta.get("finish_reason")
                or response_meta.get("stop_reason")
                or info.get("finish_reason")
            )
            call.record_response(
                response_model=response_meta.get("model_name") or response_meta.get("model"),
                finish_reasons=[str(reason)] if reason else None,
            )
            usage = getattr(message, "usage_metadata", None)
            if usage:
                details_in = usage.get("input_token_details") or {}
                details_out = usage.get("output_token_details") or {}
                call.record_usage(
                    input_tokens=usage.get("input_tokens"),
                    output_tokens=usage.get("output_tokens"),
                    cache_read_tokens=details_in.get("cache_read"),
                    cache_write_tokens=details_in.get("cache_creation"),
                    reasoning_tokens=details_out.get("reasoning"),
                )
            else:
                token_usage = (response.llm_output or {}).get("token_usage") or {}
                call.record_usage(
                    input_tokens=token_usage.get("prompt_tokens"),
                    output_tokens=token_usage.get("completion_tokens"),
                )
            texts = [getattr(g, "text", "") for g in generations]
            call.record_output(
                texts=texts,
                messages=lambda budget: [
                    {
                        **text_message("assistant", text, budget),
                        **({"finish_reason": str(reason)} if reason else {}),
                    }
                    for text in texts
                ],
            )
        except Exception as exc:
            call.runtime.internal_error_quiet(exc, "reading a LangChain model's response")
        call.end()

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._pop(run_id)
        if isinstance(call, LLMCall):
            call.fail(error)
