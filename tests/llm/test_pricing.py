"""Pricing LLM calls from the offline table (genai-prices, pinned in constraints.txt)."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator

import pytest

from aither.adapters.llm import pricing
from aither.adapters.llm.pricing import Price, TokenUsage, price

pytest.importorskip("genai_prices")

SOURCE = "genai-prices 0.2.3"
M = 1_000_000


def usd(*terms: tuple[int, float]) -> float:
    """Tokens x dollars per million tokens, summed."""
    return sum(tokens * rate for tokens, rate in terms) / M


def test_the_source_names_the_pinned_table() -> None:
    # The expected prices below are genai-prices 0.2.3's rates; a new table must be checked.
    assert price("openai", "gpt-4o-mini", TokenUsage(input_tokens=1)).source == SOURCE


@pytest.mark.parametrize(
    ("provider", "model", "usage", "expected", "price_model"),
    [
        # gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million.
        ("openai", "gpt-4o-mini", TokenUsage(1000, 100), usd((1000, 0.15), (100, 0.60)), "gpt-4o-mini"),
        (
            "openai",
            "gpt-4o-mini-2024-07-18",  # the dated name the API answers with
            TokenUsage(input_tokens=1000, output_tokens=100, cache_read_tokens=400),
            usd((600, 0.15), (400, 0.075), (100, 0.60)),
            "gpt-4o-mini",
        ),
        # o3-mini: $1.10 / $0.55 cached / $4.40 output. completion_tokens already holds the
        # reasoning tokens: 500 output of which 300 reasoning is 500 output tokens, not 800.
        (
            "openai",
            "o3-mini",
            TokenUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=200, reasoning_tokens=300),
            usd((800, 1.10), (200, 0.55), (500, 4.40)),
            "o3-mini",
        ),
        # Claude Sonnet 4: $3 input, $0.30 cache read, $3.75 cache write, $15 output.
        (
            "anthropic",
            "claude-sonnet-4-20250514",
            TokenUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=200, cache_write_tokens=100),
            usd((700, 3.0), (200, 0.30), (100, 3.75), (500, 15.0)),
            "claude-sonnet-4-0",
        ),
        # Gemini 2.0 Flash: $0.10 input, $0.025 cached, $0.40 output; the API's "models/" prefix.
        (
            "gcp.gemini",
            "models/gemini-2.0-flash",
            TokenUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=200),
            usd((800, 0.10), (200, 0.025), (500, 0.40)),
            "gemini-2.0-flash",
        ),
        (
            "gcp.vertex_ai",
            "publishers/google/models/gemini-2.0-flash",
            TokenUsage(input_tokens=1000, output_tokens=500),
            usd((1000, 0.10), (500, 0.40)),
            "gemini-2.0-flash",
        ),
        # Azure OpenAI has a table of its own: gpt-4o at $2.50 / $10.
        ("azure.ai.openai", "gpt-4o", TokenUsage(1000, 500), usd((1000, 2.5), (500, 10.0)), "gpt-4o"),
        # Embeddings have no output tokens.
        (
            "openai",
            "text-embedding-3-small",
            TokenUsage(input_tokens=5000),
            usd((5000, 0.02)),
            "text-embedding-3-small",
        ),
    ],
)
def test_known_models_are_priced_from_the_tables_rates(
    provider: str, model: str, usage: TokenUsage, expected: float, price_model: str
) -> None:
    result = price(provider, model, usage)
    assert result.usd is not None
    assert math.isclose(result.usd, expected, rel_tol=1e-12), (result.usd, expected)
    assert result == Price(result.usd, SOURCE, price_model, unknown_model=False, unavailable=None)


def test_cached_tokens_cost_less_than_the_same_tokens_uncached() -> None:
    cold = price("openai", "gpt-4o-mini", TokenUsage(input_tokens=10_000, output_tokens=0))
    warm = price("openai", "gpt-4o-mini", TokenUsage(10_000, 0, cache_read_tokens=10_000))
    assert cold.usd is not None and warm.usd is not None
    assert math.isclose(warm.usd, cold.usd / 2)  # $0.075 against $0.15


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-17-ultra"),
        ("anthropic", "gpt-4o-mini"),  # a model of another provider is not this provider's
        ("gcp.gemini", "my-fine-tune"),
        ("some.proxy", "gpt-4o-mini"),  # a provider the table does not know
        ("openai", None),
        ("openai", ""),
    ],
)
def test_an_unknown_model_is_flagged_never_priced_at_zero(provider: str, model: str | None) -> None:
    result = price(provider, model, TokenUsage(input_tokens=1000, output_tokens=100))
    assert result == Price(None, SOURCE, None, unknown_model=True, unavailable=None)


def test_a_call_without_usage_is_not_priced() -> None:
    result = price("openai", "gpt-4o-mini", TokenUsage())
    assert result == Price(None, SOURCE, "gpt-4o-mini", unknown_model=False, unavailable="no_usage")
    # Reasoning or cache counts alone are no usage either: there is no total to price.
    only_parts = price("openai", "gpt-4o-mini", TokenUsage(cache_read_tokens=5, reasoning_tokens=3))
    assert only_parts.unavailable == "no_usage"


@pytest.mark.parametrize(
    "usage",
    [
        TokenUsage(input_tokens=10, output_tokens=5, cache_read_tokens=100),  # Anthropic's uncached count
        TokenUsage(input_tokens=10, output_tokens=5, cache_read_tokens=6, cache_write_tokens=6),
        TokenUsage(input_tokens=10, output_tokens=5, reasoning_tokens=6),
        TokenUsage(input_tokens=-1, output_tokens=5),
        TokenUsage(input_tokens=True, output_tokens=5),  # type: ignore[arg-type]
        TokenUsage(input_tokens="10", output_tokens=5),  # type: ignore[arg-type]
        TokenUsage(input_tokens=1.5, output_tokens=5),  # type: ignore[arg-type]
    ],
)
def test_usage_that_cannot_be_right_is_not_priced(usage: TokenUsage) -> None:
    result = price("openai", "gpt-4o-mini", usage)
    assert result == Price(None, SOURCE, "gpt-4o-mini", unknown_model=False, unavailable="invalid_usage")


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        (None, "gpt-4o", TokenUsage(1, 1)),
        (42, "gpt-4o", TokenUsage(1, 1)),
        ("openai", 3.5, TokenUsage(1, 1)),
        ("openai", ["gpt-4o"], TokenUsage(1, 1)),  # unhashable
        ("openai", "gpt-4o", None),
        ("openai", "gpt-4o", "1000 tokens"),
        ("openai", "x" * 100_000, TokenUsage(1, 1)),
        ("openai", "gpt-4o\x00; DROP TABLE", TokenUsage(1, 1)),
    ],
)
def test_price_never_raises_on_garbage(provider: object, model: object, usage: object) -> None:
    result = price(provider, model, usage)  # type: ignore[arg-type]
    assert isinstance(result, Price)
    assert result.usd is None
    assert result.unknown_model or result.unavailable == "invalid_usage"


def test_a_model_is_looked_up_once() -> None:
    pricing._lookup.cache_clear()
    for _ in range(3):
        price("anthropic", "claude-3-5-haiku-latest", TokenUsage(10, 10))
    info = pricing._lookup.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_the_bundled_table_is_used_even_after_an_application_replaced_genai_prices_snapshot() -> None:
    from genai_prices import data_snapshot

    before = price("openai", "gpt-4o-mini", TokenUsage(1000, 100))
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(providers=[], from_auto_update=True))
    try:
        after = price("openai", "gpt-4o-mini", TokenUsage(1000, 100))
    finally:
        data_snapshot.set_custom_snapshot(None)
    assert after == before
    assert after.usd is not None


@pytest.fixture
def without_genai_prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [m for m in sys.modules if m == "genai_prices" or m.startswith("genai_prices.")]:
        monkeypatch.setitem(sys.modules, name, None)
    pricing._table.cache_clear()
    pricing._lookup.cache_clear()
    yield
    pricing._table.cache_clear()
    pricing._lookup.cache_clear()


def test_without_the_table_calls_are_marked_not_priced(without_genai_prices: None) -> None:
    result = price("openai", "gpt-4o-mini", TokenUsage(1000, 100))
    assert result == Price(None, "none", None, unknown_model=False, unavailable="no_price_table")


def test_importing_aither_does_not_import_the_table() -> None:
    import subprocess

    code = "import sys, aither; assert 'genai_prices' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_repeated_counts_are_priced_once_and_alike() -> None:
    usage = TokenUsage(input_tokens=1234, output_tokens=56)
    pricing._PRICES.clear()
    first = price("openai", "gpt-4o-mini", usage)
    assert len(pricing._PRICES) == 1
    assert price("openai", "gpt-4o-mini", usage) == first
    assert len(pricing._PRICES) == 1
    other = price("openai", "gpt-4o-mini", TokenUsage(input_tokens=1234, output_tokens=57))
    assert other.usd is not None and first.usd is not None and other.usd > first.usd
    assert len(pricing._PRICES) == 2
