"""The attributes an OpenAI span is expected to carry, built from the fake's scripted reply."""

from __future__ import annotations

import json
from typing import Any

from aither.adapters.llm.pricing import TokenUsage, price
from aither.testing import CapturedSpan

from ..fake_openai import FakeOpenAI


def cost(model: str, **usage: int) -> dict[str, Any]:
    p = price("openai", model, TokenUsage(**usage))
    assert p.usd is not None and p.usd > 0, p
    return {
        "aither.cost.usd": p.usd,
        "aither.cost.source": p.source,
        "aither.cost.price_model": p.price_model,
    }


def base(fake: FakeOpenAI, *, operation: str = "chat", model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {
        "aither.span.kind": "llm",
        "aither.schema.version": "2",
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "aither.llm.client.name": "assistant",
    }


NO_INJECTION = {"aither.injection.score": 0.0, "aither.injection.detected": False}


def chat_response(
    *,
    model: str = "gpt-4o-mini-2024-07-18",
    id: str = "chatcmpl-1",
    reasons: tuple[str, ...] = ("stop",),
    prompt: int = 12,
    completion: int = 5,
    cached: int = 0,
    reasoning: int = 0,
) -> dict[str, Any]:
    return {
        "gen_ai.response.model": model,
        "gen_ai.response.id": id,
        "gen_ai.response.finish_reasons": reasons,
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_1",
        "gen_ai.usage.input_tokens": prompt,
        "gen_ai.usage.output_tokens": completion,
        "gen_ai.usage.cache_read.input_tokens": cached,
        "gen_ai.usage.reasoning.output_tokens": reasoning,
        **cost(
            model,
            input_tokens=prompt,
            output_tokens=completion,
            cache_read_tokens=cached,
            reasoning_tokens=reasoning,
        ),
    }


def content(span: CapturedSpan, key: str) -> Any:
    return json.loads(span.attributes[key])


def without(attrs: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k not in keys}
