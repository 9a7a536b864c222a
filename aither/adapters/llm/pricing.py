"""What an LLM call cost, from an offline, versioned price table.

The table is `genai-prices <https://github.com/pydantic/genai-prices>`_ (pydantic's; MIT),
the copy bundled with the installed package: aither never starts its ``UpdatePrices``
background download, and reads the bundled data even where the application did, so a cost
is always reproducible from ``aither.cost.source`` (``genai-prices 0.2.3``). The extras
``aither[openai]``, ``aither[anthropic]`` and ``aither[gemini]`` install it; without it, calls
are not priced and say so (``unavailable="no_price_table"``). genai-prices needs Python 3.11.

How each kind of token is priced (all counts as the provider reports them, rates per million
tokens from the table):

=======================  ===================================================================
``input_tokens``         the whole prompt, **cached tokens included** (OpenAI's
                         ``prompt_tokens``, Gemini's ``prompt_token_count``; for Anthropic,
                         ``input_tokens + cache_read_input_tokens +
                         cache_creation_input_tokens``). The part neither read from nor
                         written to the cache is priced at the input rate.
``cache_read_tokens``    priced at the table's cache-read rate (OpenAI's
                         ``cached_tokens``, Anthropic's ``cache_read_input_tokens``,
                         Gemini's ``cached_content_token_count``); the input rate where the
                         table has no cache-read rate.
``cache_write_tokens``   priced at the cache-write rate (Anthropic's 5-minute rate; 1-hour
                         writes are not told apart and so priced low); the input rate where
                         the table has none (OpenAI and Gemini do not bill writes).
``output_tokens``        the whole completion, **reasoning tokens included** (OpenAI's
                         ``completion_tokens`` already includes its
                         ``reasoning_tokens``; Gemini's ``candidates_token_count`` does not,
                         so its adapter adds ``thoughts_token_count``).
``reasoning_tokens``     part of ``output_tokens``, never counted twice: priced at the
                         table's reasoning rate where it has one, else (OpenAI, Anthropic,
                         Gemini today) as ordinary output tokens.
=======================  ===================================================================

A model the table does not know, or a provider it does not know, is flagged
(``unknown_model=True``) and not priced: never $0. A call with no usage (an error, a stream
the caller closed before its usage arrived) is ``unavailable="no_usage"``; usage that cannot
be right (cached tokens beyond the input, reasoning beyond the output, negative counts) is
``unavailable="invalid_usage"``. :func:`price` never raises.
"""

from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass
from typing import Any

from ...schema import providers

# gen_ai.provider.name (OpenTelemetry GenAI conventions) -> genai-prices' provider id.
# Vertex AI serves Gemini and (through genai-prices' fallback) Anthropic's models; Azure
# OpenAI has its own table with a fallback to OpenAI's.
PROVIDER_IDS: dict[str, str] = {
    providers.OPENAI: "openai",
    providers.ANTHROPIC: "anthropic",
    providers.GCP_GEMINI: "google",
    providers.GCP_VERTEX_AI: "google",
    providers.GCP_GEN_AI: "google",
    providers.AZURE_AI_OPENAI: "azure",
    providers.AZURE_AI_INFERENCE: "azure",
    providers.AWS_BEDROCK: "aws",
    providers.COHERE: "cohere",
    providers.DEEPSEEK: "deepseek",
    providers.GROQ: "groq",
    providers.MISTRAL_AI: "mistral",
    providers.PERPLEXITY: "perplexity",
    providers.X_AI: "x-ai",
}
"""The providers aither prices, by their ``gen_ai.provider.name``."""

_LOOKUP_CACHE_SIZE = 512
_PRICE_CACHE_SIZE = 4096


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of one call, as the provider reported them (``None``: not reported)."""

    input_tokens: int | None = None
    """Total input, including cached tokens."""
    output_tokens: int | None = None
    """Total output, including reasoning tokens."""
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class Price:
    """The cost of one call, or why it has none."""

    usd: float | None
    """Cost in US dollars; ``None`` when the call is not priced."""
    source: str
    """The price table and its version: ``genai-prices 0.2.3``."""
    price_model: str | None
    """The table's id of the model whose prices were used."""
    unknown_model: bool
    """True when the table does not know the model (or its provider)."""
    unavailable: str | None
    """Why a known model was not priced: ``no_usage``, ``invalid_usage``, ``no_price_table``."""


@functools.lru_cache(maxsize=1)
def _table() -> tuple[Any, str] | None:
    """The bundled price data and its source, or ``None`` when genai-prices is missing."""
    try:
        from genai_prices.data import providers
        from genai_prices.data_snapshot import DataSnapshot
    except ImportError:  # not installed, or Python < 3.11
        return None
    try:
        version = importlib.metadata.version("genai-prices")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a vendored copy
        version = "unknown"
    # Our own snapshot of the bundled data, not genai_prices.calc_price's: that one follows
    # whatever UpdatePrices downloaded, and ``source`` would no longer say what priced a call.
    return DataSnapshot(providers=providers, from_auto_update=False), f"genai-prices {version}"


def _model_ref(model: str) -> str:
    # Gemini names models "models/gemini-2.0-flash", Vertex AI
    # "publishers/google/models/gemini-2.0-flash"; the table knows the last part.
    _, sep, rest = model.rpartition("models/")
    return rest if sep else model


@functools.lru_cache(maxsize=_LOOKUP_CACHE_SIZE)
def _lookup(provider: str, model: str) -> tuple[Any, Any] | None:
    """``(provider, model)`` of the table, cached: the table is searched once per model."""
    table = _table()
    provider_id = PROVIDER_IDS.get(provider)
    # No provider at all (a call recorded with log_llm_call without one): the table finds
    # the model among every provider's. A provider it does not know prices nothing.
    if table is None or (provider_id is None and provider):
        return None
    try:
        return table[0].find_provider_model(_model_ref(model), None, provider_id, None)  # type: ignore[no-any-return]
    except LookupError:
        return None


def _count(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a token count: {value!r}")
    return value


def price(provider: str, model: str | None, usage: TokenUsage) -> Price:
    """The cost of one call of ``model`` at ``provider`` (a ``gen_ai.provider.name``).

    Called on the caller's thread once per LLM call; a model is looked up in the table once,
    then cached. Never raises: anything it cannot price comes back with ``usd=None`` and the
    reason.

    Example:
        >>> p = price("openai", "gpt-4o-mini", TokenUsage(input_tokens=1000, output_tokens=100))
        >>> p.usd, p.price_model  # 1000 x $0.15/M + 100 x $0.60/M
        (0.00021, 'gpt-4o-mini')
    """
    table = _table()
    if table is None:
        return Price(None, "none", None, unknown_model=False, unavailable="no_price_table")
    source = table[1]
    try:
        found = (
            _lookup(provider, model)
            if isinstance(provider, str) and isinstance(model, str) and model
            else None
        )
    except Exception:  # a table bug must not cost the caller its call
        found = None
    if found is None:
        return Price(None, source, None, unknown_model=True, unavailable=None)
    table_provider, table_model = found
    try:
        counts = {
            "input_tokens": _count(usage.input_tokens),
            "output_tokens": _count(usage.output_tokens),
            "cache_read_tokens": _count(usage.cache_read_tokens),
            "cache_write_tokens": _count(usage.cache_write_tokens),
            "output_reasoning_tokens": _count(usage.reasoning_tokens),
        }
    except (ValueError, AttributeError):
        return Price(None, source, table_model.id, unknown_model=False, unavailable="invalid_usage")
    if counts["input_tokens"] is None and counts["output_tokens"] is None:
        return Price(None, source, table_model.id, unknown_model=False, unavailable="no_usage")
    # Parts beyond their total mean the adapter or the provider got a count wrong (Anthropic's
    # input_tokens, say, taken without its cached tokens): not priced, rather than priced low.
    cached = (counts["cache_read_tokens"] or 0) + (counts["cache_write_tokens"] or 0)
    if cached > (counts["input_tokens"] or 0) or (counts["output_reasoning_tokens"] or 0) > (
        counts["output_tokens"] or 0
    ):
        return Price(None, source, table_model.id, unknown_model=False, unavailable="invalid_usage")
    # Only what was reported: genai-prices prices the uncached part of the input (and the
    # non-reasoning part of the output) as the total less its parts, and refuses usage whose
    # parts exceed their total.
    reported = tuple((key, value) for key, value in counts.items() if value is not None)
    # A model whose price depends on the time of the call (off-peak rates) is priced afresh.
    if _time_independent(table_model):
        key = (str(table_provider.id), str(table_model.id), reported)
        usd = _PRICES.get(key, _MISSING)
        if usd is _MISSING:
            usd = _calc(found, reported)
            if len(_PRICES) >= _PRICE_CACHE_SIZE:
                _PRICES.clear()
            _PRICES[key] = usd
    else:
        usd = _calc(found, reported)
    if usd is None:  # inconsistent usage, or a table the package can't read
        return Price(None, source, table_model.id, unknown_model=False, unavailable="invalid_usage")
    return Price(usd, source, table_model.id, unknown_model=False, unavailable=None)


def _time_independent(table_model: Any) -> bool:
    try:
        from genai_prices.types import ModelPrice

        return isinstance(table_model.prices, ModelPrice)
    except Exception:
        return False


_MISSING: Any = object()
_PRICES: dict[tuple[str, str, tuple[tuple[str, int], ...]], float | None] = {}
"""(provider id, model id, reported counts) -> USD, for models priced alike at any time:
genai-prices' calculation (~100 µs with its validation) is the same for the same counts, and
calls of one prompt template often repeat them."""


def _calc(found: tuple[Any, Any], reported: tuple[tuple[str, int], ...]) -> float | None:
    """genai-prices' price of ``reported`` counts for a model, or None if it refuses them."""
    table_provider, table_model = found
    try:
        from genai_prices.types import Usage

        counts = dict(reported)
        counts.setdefault("input_tokens", 0)
        counts.setdefault("output_tokens", 0)
        calculation = table_model.calc_price(Usage(**counts), table_provider)
        return float(calculation.total_price)
    except Exception:
        return None
