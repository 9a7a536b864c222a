"""What of an LLM span waits for the export thread: the PII and injection scans, and the price.

They flag, never block, so the caller need not wait for them: the caller's thread keeps
references to the (immutable) strings and the usage; :class:`LLMPayload` computes the
attributes when the exporter first reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

from ...export.pipeline import DeferredPayload
from ...schema import semconv
from . import injection, pii
from ._text import SCAN_MAX_CHARS, collect_texts

if TYPE_CHECKING:
    from ..._runtime import Runtime

try:  # the price table is an optional part (aither[openai] etc. bring genai-prices)
    from . import pricing as _pricing
except Exception:  # pragma: no cover - pricing not there, or genai-prices broken
    _pricing = None  # type: ignore[assignment]


@dataclass(slots=True, eq=False, repr=False)
class Findings:
    """The PII counts, the injection score and the price of one call, computed when the span is
    exported (they flag, never block, so the caller need not wait for them)."""

    runtime: Runtime
    provider: str
    model: str | None
    usage: dict[str, int] | None
    input_texts: list[str]
    system_texts: list[str]
    output_texts: list[str] | None
    price: InitVar[bool] = field(default=True, kw_only=True)
    wants_price: bool = field(init=False)
    """False when the caller gave the cost (``price=False``): the call is not priced."""

    def __post_init__(self, price: bool) -> None:
        self.wants_price = price

    def approx_bytes(self) -> int:
        return 256 + sum(map(len, self.input_texts)) + sum(map(len, self.system_texts))

    def attributes(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for step in (self._injection, self._pii, self._price):
            try:
                step(out)
            except Exception as exc:
                self.runtime.internal_error_quiet(exc, "scanning or pricing an LLM call")
        return out

    def _injection(self, out: list[tuple[str, Any]]) -> None:
        if not self.input_texts:
            return
        score, rules = injection.score(self.input_texts, SCAN_MAX_CHARS)
        out.append((semconv.AITHER_INJECTION_SCORE, score))
        if rules:
            out.append((semconv.AITHER_INJECTION_RULES, rules))
        out.append((semconv.AITHER_INJECTION_DETECTED, score >= injection.THRESHOLD))

    def _pii(self, out: list[tuple[str, Any]]) -> None:
        detected = truncated = False
        prompt = collect_texts([*self.input_texts, *self.system_texts])
        for prefix, texts in (
            (semconv.AITHER_PII_INPUT_PREFIX, prompt),
            (semconv.AITHER_PII_OUTPUT_PREFIX, self.output_texts),
        ):
            if not texts:
                continue
            counts, cut = pii.count(texts, SCAN_MAX_CHARS)
            truncated = truncated or cut
            for kind, n in counts.items():
                if n:
                    out.append((prefix + kind, n))
                    detected = True
        if detected:
            out.append((semconv.AITHER_PII_DETECTED, True))
        if truncated:
            out.append((semconv.AITHER_PII_SCAN_TRUNCATED, True))

    def _price(self, out: list[tuple[str, Any]]) -> None:
        if not self.wants_price:  # the caller gave the cost
            return
        if _pricing is None:
            out.append((semconv.AITHER_COST_UNAVAILABLE, "no_price_table"))
            return
        u = self.usage or {}
        price = _pricing.price(
            self.provider,
            self.model,
            _pricing.TokenUsage(
                input_tokens=u.get(semconv.GEN_AI_USAGE_INPUT_TOKENS),
                output_tokens=u.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
                cache_read_tokens=u.get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
                cache_write_tokens=u.get(semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
                reasoning_tokens=u.get(semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
            ),
        )
        if price.usd is not None:
            out.append((semconv.AITHER_COST_USD, float(price.usd)))
            out.append((semconv.AITHER_COST_SOURCE, price.source))
            if price.price_model:
                out.append((semconv.AITHER_COST_PRICE_MODEL, price.price_model))
        elif price.unknown_model:
            out.append((semconv.AITHER_COST_UNKNOWN_MODEL, True))
            out.append((semconv.AITHER_COST_SOURCE, price.source))
        elif price.unavailable:
            out.append((semconv.AITHER_COST_UNAVAILABLE, price.unavailable))


class LLMPayload(DeferredPayload):
    """A deferred payload whose ``raw`` attributes are the span's request and response
    attributes (set as they are, without the SDK's per-attribute checks: the adapters build
    them of valid types) and the scans and price, computed when the exporter first reads
    them, on the export thread; ``items`` (the content) are encoded there as usual."""

    __slots__ = ("_attributes", "_findings", "_late", "_raw")

    def __init__(
        self,
        items: list[tuple[str, Any]],
        approx_bytes: int,
        findings: Findings,
        attributes: dict[str, Any] | None = None,
        late: Callable[[Findings, dict[str, Any]], None] | None = None,
    ) -> None:
        self._findings: Findings | None = findings
        # reads the response into attributes and findings, first thing; called with them
        # (rather than a partial holding them: one object fewer per call)
        self._late = late
        self._attributes = attributes
        self._raw: list[tuple[str, Any]] | None = None
        super().__init__(items, approx_bytes, None)

    @property  # type: ignore[override]
    def raw(self) -> list[tuple[str, Any]] | None:
        findings = self._findings
        if findings is not None:
            self._findings = None
            if self._late is not None:
                late, self._late = self._late, None
                late(findings, self._attributes if self._attributes is not None else {})
            out: list[tuple[str, Any]] = []
            if self._attributes:
                # Lists as tuples, as the SDK stores them, so an exported span reads the same.
                out.extend(
                    (key, tuple(value) if type(value) is list else value)
                    for key, value in self._attributes.items()
                )
                self._attributes = None
            out.extend(findings.attributes())
            self._raw = out
        return self._raw

    @raw.setter
    def raw(self, value: list[tuple[str, Any]] | None) -> None:
        self._raw = value
