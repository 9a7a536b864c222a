"""Checks of LLM answers: a judge model for hallucination, and groundedness against retrieved text.

**The judge** (LLM_CHECK) is any OpenAI-compatible chat endpoint the server is configured with
(``judge_base_url``, ``judge_model``, the key in the environment variable ``judge_api_key_env``).
A share of the LLM calls that carry their content (``judge_sample_share``) is offered to a
bounded queue; a background thread asks the judge, counts its own tokens and cost, and leaves
the verdicts for the writer thread to record at its next batch. Ingest never waits for it: a
full queue drops the offer and counts it.

The judge's prompt (:data:`JUDGE_PROMPT`) asks for a JSON verdict: a hallucination score from 0
(every claim supported) to 1 (made up), and one sentence of reason.

**Groundedness** (RAG): for a trace holding a retrieval span (``aither.span.type = "retrieval"``,
its ``aither.output`` the retrieved text) and a generation, the share of the answer's content
words that occur in the retrieved text. Lexical and cheap: it catches an answer that talks about
something the retrieval did not return; it does not catch a wrong claim made of the right words
(the judge, given the same context, does).
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger("aither.server")

JUDGE_PROMPT = """You check an AI assistant's answer for hallucination: claims that the conversation \
and the context below do not support, or that are false.

Reply with one JSON object and nothing else:
{"score": <a number from 0 to 1: 0 = every claim is supported, 1 = the answer is made up>,
 "reason": "<one sentence>"}"""
"""The judge's system prompt (documented in ``docs/drift.md``)."""

MAX_TEXT = 8000
"""Characters of the prompt, context and answer sent to the judge (each)."""
_WORD = re.compile(r"[^\W\d_]{3,}|\d+(?:[.,]\d+)?", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "your",
        "with",
        "this",
        "that",
        "from",
        "they",
        "have",
        "has",
        "had",
        "was",
        "were",
        "will",
        "would",
        "can",
        "could",
        "should",
        "there",
        "their",
        "what",
        "which",
        "when",
        "where",
        "who",
        "whom",
        "how",
        "why",
        "all",
        "any",
        "each",
        "into",
        "than",
        "then",
        "them",
        "these",
        "those",
        "its",
        "it's",
        "our",
        "out",
        "about",
        "also",
        "just",
        "only",
        "very",
        "more",
        "most",
        "some",
        "such",
        "been",
        "being",
        "over",
        "under",
        "again",
        "here",
        "does",
        "did",
        "doing",
    ]
)


def message_text(raw: Any) -> str:
    """The text of a ``gen_ai.*.messages`` attribute (JSON of ``[{"role", "parts": [...]}]``)."""
    try:
        messages = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw if isinstance(raw, str) else ""
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, Mapping):
            continue
        for part in message.get("parts") or []:
            if isinstance(part, Mapping) and isinstance(part.get("content"), str):
                texts.append(part["content"])
        if isinstance(message.get("content"), str):
            texts.append(message["content"])
    return "\n".join(texts)


def words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP}


def groundedness(answer: str, context: str) -> float | None:
    """The share of the answer's content words found in the context; None for an empty answer."""
    said = words(answer)
    if not said:
        return None
    return len(said & words(context)) / len(said)


class RecentContexts:
    """Retrieved text of recent traces, bounded (a retrieval span ends before its generation)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._texts: OrderedDict[str, str] = OrderedDict()

    def add(self, trace_id: str, text: str) -> None:
        previous = self._texts.pop(trace_id, "")
        self._texts[trace_id] = (previous + "\n" + text).strip()[: 4 * MAX_TEXT]
        while len(self._texts) > self._capacity:
            self._texts.popitem(last=False)

    def get(self, trace_id: str) -> str | None:
        return self._texts.get(trace_id)


@dataclass
class JudgeItem:
    org_id: str
    model: str
    trace_id: str
    time_ns: int
    prompt: str
    answer: str
    context: str | None = None


@dataclass
class JudgeVerdict:
    item: JudgeItem
    score: float
    reason: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass
class JudgeCounts:
    offered: int = 0
    dropped: int = 0
    judged: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)


class Judge:
    """A bounded queue and one background thread asking an OpenAI-compatible judge. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        *,
        queue_size: int = 100,
        price_input_per_mtok: float = 0.0,
        price_output_per_mtok: float = 0.0,
        timeout_s: float = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._queue: queue.Queue[JudgeItem | None] = queue.Queue(maxsize=queue_size)
        self._verdicts: list[JudgeVerdict] = []
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._prices = (price_input_per_mtok, price_output_per_mtok)
        self._http = http_client or httpx.Client(timeout=timeout_s)
        self.counts = JudgeCounts()
        self._thread = threading.Thread(target=self._run, name="aither-judge", daemon=True)
        self._thread.start()

    def offer(self, item: JudgeItem) -> bool:
        """Queue ``item`` for the judge; False (counted) when the queue is full. Never blocks."""
        with self._lock:
            self.counts.offered += 1
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.counts.dropped += 1
            return False
        return True

    def drain(self) -> list[JudgeVerdict]:
        """The verdicts reached since the last drain."""
        with self._lock:
            verdicts, self._verdicts = self._verdicts, []
        return verdicts

    def wait(self, answered: int, timeout: float) -> bool:
        """Wait until ``answered`` offers got a verdict or failed; False when ``timeout`` passed."""
        with self._done:
            return self._done.wait_for(lambda: self.counts.judged + self.counts.failed >= answered, timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
        self._http.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                verdict = self._ask(item)
            except Exception as exc:  # a judge that fails costs us a verdict, never ingest
                with self._lock:
                    self.counts.failed += 1
                    self.counts.errors = [*self.counts.errors[-4:], f"{type(exc).__name__}: {exc}"[:300]]
                    self._done.notify_all()
                logger.warning(
                    "aither server: the judge failed on a call of trace %s: %s", item.trace_id, exc
                )
                continue
            with self._lock:
                self.counts.judged += 1
                self.counts.input_tokens += verdict.input_tokens
                self.counts.output_tokens += verdict.output_tokens
                self.counts.cost_usd += verdict.cost_usd
                self._verdicts.append(verdict)
                self._done.notify_all()

    def _ask(self, item: JudgeItem) -> JudgeVerdict:
        parts = [f"Conversation:\n{item.prompt[:MAX_TEXT]}"]
        if item.context:
            parts.append(f"Context (retrieved):\n{item.context[:MAX_TEXT]}")
        parts.append(f"Answer to check:\n{item.answer[:MAX_TEXT]}")
        response = self._http.post(
            f"{self.base_url}/chat/completions",
            headers=self._headers,
            json={
                "model": self.model,
                "temperature": 0,
                "messages": [
                    {"role": "system", "content": JUDGE_PROMPT},
                    {"role": "user", "content": "\n\n".join(parts)},
                ],
            },
        )
        response.raise_for_status()
        body = response.json()
        content = body["choices"][0]["message"]["content"] or ""
        match = re.search(r"\{.*\}", content, re.DOTALL)
        if match is None:
            raise ValueError(f"the judge's answer holds no JSON object: {content[:200]!r}")
        verdict = json.loads(match.group(0))
        score = float(verdict["score"])
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"the judge's score {score} is not between 0 and 1")
        usage = body.get("usage") or {}
        tokens_in, tokens_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        cost = (tokens_in * self._prices[0] + tokens_out * self._prices[1]) / 1e6
        return JudgeVerdict(item, score, str(verdict.get("reason", ""))[:500], tokens_in, tokens_out, cost)
