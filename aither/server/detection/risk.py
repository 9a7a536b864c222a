"""The risk level of one LLM call, stored with the call (``llm_calls.risk_level``).

==========  ==========================================================================
level       when
==========  ==========================================================================
critical    prompt injection detected (the adapter's score passed its threshold)
high        personal data found in the prompt or the answer, or an injection score >= 0.5
medium      the call failed, or it cost, took or used more than the rules' thresholds
low         none of these
==========  ==========================================================================
"""

from __future__ import annotations

from ...schema.vocabulary import RiskLevel
from ..ingest.records import LlmCallRecord
from .rules import RuleSet

SUSPICIOUS_INJECTION_SCORE = 0.5


def _threshold(rules: RuleSet, name: str) -> float | None:
    rule = rules.rules.get(name)
    return rule.threshold if rule is not None else None


def call_risk(call: LlmCallRecord, rules: RuleSet) -> RiskLevel:
    """The risk of ``call``; the thresholds are the rules' (high_cost, high_latency...)."""
    if call.injection_detected:
        return RiskLevel.CRITICAL
    if call.pii_detected or (call.injection_score or 0.0) >= SUSPICIOUS_INJECTION_SCORE:
        return RiskLevel.HIGH
    cost, latency, tokens = (_threshold(rules, n) for n in ("high_cost", "high_latency", "high_token_usage"))
    used = (call.input_tokens or 0) + (call.output_tokens or 0)
    if (
        call.is_error
        or (cost is not None and (call.cost_usd or 0.0) > cost)
        or (latency is not None and call.latency_ms > latency)
        or (tokens is not None and used > tokens)
    ):
        return RiskLevel.MEDIUM
    return RiskLevel.LOW
