"""Checks of LLM calls as they are stored: embedding drift, groundedness, and the judge's verdicts.

See :mod:`aither.server.drift.embeddings` and :mod:`aither.server.drift.judge` for the methods;
this module keeps their state per server (called on the writer thread).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy.engine import Connection

from ...schema import semconv as sc
from ...schema.envelope import SAMPLE
from ..alerts.notice import AnomalyNotice
from ..detection.anomalies import Target
from ..ingest.records import LlmCallRecord, OperationRecord, SpanRecord
from . import embeddings, outcomes, store
from .config import DriftSettings
from .judge import Judge, JudgeItem, RecentContexts, groundedness, message_text, words
from .rules import EMBEDDING_DRIFT, GROUNDEDNESS, HALLUCINATION
from .windows import Stream

Attributes = dict[str, Any]
"""A span's attributes, decoded."""


class _Batch(NamedTuple):
    """What every check of one stored batch writes with: its transaction, organisation, settings."""

    connection: Connection
    org_id: str
    settings: DriftSettings


class AnswerChecks:
    """Embedding windows, recent retrieved text and the judge of one server."""

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, str, str], Stream] = {}
        self._contexts = RecentContexts()
        self._judge: Judge | None = None
        self._random = random.Random(0x4A55)  # which calls the judge sees: seeded, reproducible

    def observe(
        self,
        connection: Connection,
        org_id: str,
        settings: DriftSettings,
        spans: Mapping[tuple[str, str], SpanRecord],
        llm_calls: Sequence[LlmCallRecord],
        operations: Sequence[OperationRecord],
    ) -> list[AnomalyNotice]:
        """A batch's retrievals, answers and embeddings; the judge's verdicts since the last batch."""
        notices: list[AnomalyNotice] = []
        batch = _Batch(connection, org_id, settings)
        for operation in operations:
            if operation.span_type == "retrieval" and operation.output:
                self._contexts.add(operation.trace_id, _plain_text(operation.output))
        for call in llm_calls:
            span = spans.get((call.trace_id, call.span_id))
            if span is None:
                continue
            vectors = "aither.embedding." in span.attributes
            content = sc.GEN_AI_OUTPUT_MESSAGES in span.attributes
            if not (vectors or content):
                continue
            try:
                attributes = json.loads(span.attributes)
            except ValueError:
                continue
            if vectors:
                notices.extend(self._embeddings(batch, call, attributes))
            if content:
                notices.extend(self._answer(batch, call, attributes))
        notices.extend(self._verdicts(connection, settings))
        return notices

    def judge(self, settings: DriftSettings) -> Judge | None:
        """The judge of ``settings`` (started on first use), or None when none is set."""
        if settings.judge_base_url is None:
            return None
        current = self._judge
        if current is None or (current.base_url, current.model) != (
            settings.judge_base_url.rstrip("/"),
            settings.judge_model,
        ):
            if current is not None:
                current.close(0.0)
            current = self._judge = Judge(
                settings.judge_base_url,
                settings.judge_model,
                settings.judge_api_key,
                queue_size=settings.judge_queue,
                price_input_per_mtok=settings.judge_price_input_per_mtok,
                price_output_per_mtok=settings.judge_price_output_per_mtok,
            )
        return current

    def _answer(self, batch: _Batch, call: LlmCallRecord, attributes: Attributes) -> list[AnomalyNotice]:
        connection, org_id, settings = batch
        answer = message_text(attributes.get(sc.GEN_AI_OUTPUT_MESSAGES))
        if not answer.strip():
            return []
        model = call.model
        context = self._contexts.get(call.trace_id)
        notices: list[AnomalyNotice] = []
        score = groundedness(answer, context) if context is not None else None
        if score is not None:
            threshold = settings.rag_min_groundedness
            missing = sorted(words(answer) - words(context or ""))[:20]
            details = {
                "groundedness": score,
                "threshold": threshold,
                "trace_id": call.trace_id,
                "missing": missing,
            }
            row = _answer_row(model, call.time_ns, "rag", "groundedness", score, score < threshold, details)
            store.save_scores(connection, org_id, [row])
            if score < threshold:
                message = (
                    f"{score:.0%} of the answer's content words are in the retrieved text "
                    f"(threshold {threshold:.0%})"
                )
                target = Target("llm", "", model)
                notice = outcomes.hit(
                    connection, org_id, GROUNDEDNESS, target, call.time_ns, message, details, call.trace_id
                )
                if notice is not None:
                    notices.append(notice)
        judge = self.judge(settings)
        if judge is not None and self._random.random() < settings.judge_sample_share:
            prompt = "\n".join(
                message_text(attributes.get(name))
                for name in (sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_INPUT_MESSAGES)
            )
            judge.offer(JudgeItem(org_id, model, call.trace_id, call.time_ns, prompt, answer, context))
        return notices

    def _verdicts(self, connection: Connection, settings: DriftSettings) -> list[AnomalyNotice]:
        judge = self._judge
        if judge is None:
            return []
        notices: list[AnomalyNotice] = []
        threshold = settings.judge_threshold
        for verdict in judge.drain():
            item = verdict.item
            details = {
                "score": verdict.score,
                "reason": verdict.reason,
                "threshold": threshold,
                "trace_id": item.trace_id,
                "judge_model": judge.model,
                "judge_input_tokens": verdict.input_tokens,
                "judge_output_tokens": verdict.output_tokens,
                "judge_cost_usd": verdict.cost_usd,
                "with_context": item.context is not None,
            }
            flagged = verdict.score >= threshold
            row = _answer_row(
                item.model, item.time_ns, "judge", "hallucination", verdict.score, flagged, details
            )
            store.save_scores(connection, item.org_id, [row])
            if flagged:
                message = (
                    f"the judge scored an answer {verdict.score:.2f} for hallucination: {verdict.reason}"
                )
                target = Target("llm", "", item.model)
                notice = outcomes.hit(
                    connection,
                    item.org_id,
                    HALLUCINATION,
                    target,
                    item.time_ns,
                    message,
                    details,
                    item.trace_id,
                )
                if notice is not None:
                    notices.append(notice)
        return notices

    def _embeddings(self, batch: _Batch, call: LlmCallRecord, attributes: Attributes) -> list[AnomalyNotice]:
        connection, org_id, settings = batch
        model = call.model
        notices: list[AnomalyNotice] = []
        for side, name in (
            ("prompt", sc.AITHER_EMBEDDING_PROMPT),
            ("response", sc.AITHER_EMBEDDING_RESPONSE),
        ):
            vector = embeddings.decode(attributes.get(name))
            if vector is None:
                continue
            state = self._vectors.setdefault((org_id, model, side), Stream())
            if state.reference and vector.shape != state.reference[0].shape:
                continue  # another embedding model: not comparable
            if not state.add(vector, call.time_ns, settings.embedding_reference, settings.embedding_window):
                continue
            result = embeddings.compare(
                np.array(state.reference), np.array(state.window), settings.embedding_alpha
            )
            start, end = state.start_ns, state.end_ns
            state.window = []
            score, drifted, rows = result["mean_cosine_distance"], result["drifted"], result["window_vectors"]
            row = _score_row(
                model, (start, end), "embedding", side, "embedding", score, drifted, rows, result
            )
            store.save_scores(connection, org_id, [row])
            target = Target("llm", "", model)
            rule = replace(EMBEDDING_DRIFT, name=f"{side}_embedding_drift")
            finding = None
            if result["drifted"]:
                message = (
                    f"{side} embeddings moved: mean cosine distance {result['mean_cosine_distance']:.3f}, "
                    f"MMD p={result['p_value']:.3g}"
                )
                evidence = {**result, "side": side, "window": {"start_ns": start, "end_ns": end}}
                finding = (message, evidence)
            notice = outcomes.settle(connection, org_id, rule, target, end, finding)
            if notice is not None:
                notices.append(notice)
        return notices


def _score_row(
    model: str,
    window: tuple[int, int],
    side: str,
    feature: str,
    kind: str,
    score: float,
    flagged: bool,
    rows: int,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """A drift_scores row of an LLM check (an answer's, or a window of embeddings'): LLM
    calls have no version or environment, so both are ''."""
    return {
        "model_name": model[:200],
        "model_version": "",
        "environment": "",
        "window_start_ns": window[0],
        "window_end_ns": window[1],
        "side": side,
        "feature": feature,
        "kind": kind,
        "score": score,
        "drifted": flagged,
        "rows": rows,
        "details": json.dumps(details),
    }


def _answer_row(
    model: str, at_ns: int, side: str, feature: str, score: float, flagged: bool, details: Mapping[str, Any]
) -> dict[str, Any]:
    """A drift_scores row for one checked answer: a window of one call, at its time."""
    return _score_row(model, (at_ns, at_ns), side, feature, "answer", score, flagged, 1, details)


def _plain_text(payload: str) -> str:
    """The strings of an ``aither.output`` payload (its ``sample`` when it is an envelope)."""
    try:
        value: Any = json.loads(payload)
    except ValueError:
        return payload
    if isinstance(value, dict) and SAMPLE in value:
        value = value[SAMPLE]
    texts: list[str] = []

    def walk(item: Any, depth: int = 0) -> None:
        if isinstance(item, str):
            texts.append(item)
        elif depth < 6 and isinstance(item, list):
            for inner in item:
                walk(inner, depth + 1)
        elif depth < 6 and isinstance(item, dict):
            for inner in item.values():
                walk(inner, depth + 1)

    walk(value)
    return "\n".join(texts)
