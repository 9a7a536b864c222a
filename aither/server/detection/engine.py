"""Detection as spans are stored: event rules in the ingest transaction, window rules every second.

:class:`Detection` belongs to one :class:`~aither.server.storage.Storage`. The ingest job calls
:meth:`Detection.on_ingest` inside its transaction: it sets each LLM call's risk level, adds the
batch to the per-minute rollups, and records the event rules' hits, so an anomaly is readable
as soon as its span's request is answered. The writer calls :meth:`Detection.tick` about once
a second: per organisation it reads the last hour of rollups (never raw rows, so the cost does
not grow with history), evaluates the window rules and resolves anomalies whose condition cleared.

Time is event time: each organisation's clock is the newest span time stored, advanced by the
wall time since, so a replay of simulated hours is judged as it would have been live, and a
stream that stops still ages its windows.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..alerts.notice import AnomalyNotice, AnomalySink, NullSink
from ..ingest.records import DecodedBatch, LlmCallRecord, PredictionRecord
from . import anomalies as store
from . import overrides, rollups, shared
from .anomalies import Hit, Target
from .risk import call_risk
from .rollups import MINUTE_NS
from .rules import Rule, RuleSet
from .windows import (
    BASELINE_MINUTES,
    FRESH_MINUTES,
    History,
    RecentCall,
    RecentCalls,
    group_of,
    series_of,
    window_hit,
)

if TYPE_CHECKING:  # the telemetry package imports detection
    from ..telemetry import TelemetryStore

logger = logging.getLogger("aither.server")


@dataclass
class _Clock:
    event_ns: int
    wall_ns: int

    def now(self) -> int:
        return self.event_ns + max(0, time.time_ns() - self.wall_ns)


class Detection:
    """The rules and clocks of one server, and the sink anomalies go to. Thread-safe."""

    def __init__(self, rules: RuleSet | None = None) -> None:
        self._lock = threading.Lock()
        self.rules = rules if rules is not None else RuleSet()
        self._org_rules: dict[str, RuleSet] = {}
        self._clocks: dict[str, _Clock] = {}
        self._recent: dict[str, RecentCalls] = {}
        self._history: dict[str, History] = {}
        self.sink_source: Callable[[], AnomalySink | None] = lambda: None
        self._fallback_sink = NullSink()
        self.errors = 0
        """Detection failures caught (ingest never fails because of detection)."""
        self.enabled = True
        """False: no risk, rollups or rules at all (the benchmark's baseline)."""
        self.lease: Callable[[], int | None] | None = None
        """With several servers: the lease's fencing token while this server holds it, else None
        (the window rules then run on the holder only). None: one server, always run."""
        self.shared = False
        """Other servers write to this database too: read the organisations, their clocks and the
        latest calls from it at each tick rather than from what this server stored."""
        self.telemetry: TelemetryStore | None = None
        """Where the calls are stored when not in the relational database (``--telemetry-db``):
        with :attr:`shared`, the clocks and the latest calls are read from it."""

    # --- configuration -------------------------------------------------------------------------

    def rules_for(self, org_id: str) -> RuleSet:
        with self._lock:
            return self._org_rules.get(org_id, self.rules)

    def set_rules(self, org_id: str, rules: RuleSet, connection: Connection | None = None) -> None:
        """Rules for one organisation (the API's ``PUT /api/v1/rules``).

        With ``connection`` (the writer's), their difference from the rules file is stored too,
        so :meth:`load_rules` brings them back after a restart.
        """
        if connection is not None:
            overrides.save(connection, org_id, overrides.difference(self.rules, rules))
        with self._lock:
            self._org_rules[org_id] = rules

    def load_rules(self, engine: Engine) -> None:
        """Apply each organisation's stored rule changes on top of :attr:`rules` (at start)."""
        with engine.connect() as connection:
            stored = overrides.load(connection, self.rules)
        with self._lock:
            self._org_rules = stored

    def now_ns(self, org_id: str) -> int:
        """The organisation's event clock (wall time when it has stored nothing yet)."""
        with self._lock:
            clock = self._clocks.get(org_id)
        return clock.now() if clock is not None else time.time_ns()

    def _advance(self, org_id: str, event_ns: int) -> None:
        with self._lock:
            clock = self._clocks.get(org_id)
            if clock is None or event_ns > clock.now():
                self._clocks[org_id] = _Clock(event_ns, time.time_ns())

    def submit(self, notice: AnomalyNotice | None) -> None:
        if notice is None:
            return
        sink = self.sink_source() or self._fallback_sink
        try:
            sink.submit(notice)
        except Exception:  # a sink must not raise; if one does, ingest still commits
            self.errors += 1
            logger.exception("aither server: the alert sink failed on anomaly %s", notice.id)

    # --- ingest: risk, rollups and event rules, inside the writer's transaction -------------------

    def on_ingest(self, connection: Connection, org_id: str, new: DecodedBatch) -> None:
        """Called by the ingest job with the batch's new rows, before the LLM calls are inserted."""
        spans, llm_calls, predictions = new.spans, new.llm_calls, new.predictions
        if not self.enabled or not (llm_calls or predictions):
            return
        rules = self.rules_for(org_id)
        for call in llm_calls:
            call.risk_level = call_risk(call, rules).value
        services = {span.key: span.service_name or "" for span in spans}
        rollups.upsert(connection, org_id, rollups.collect(llm_calls, predictions, services))
        if not self.shared:  # shared: the tick reads the latest calls from the database
            self._remember(org_id, llm_calls, predictions, services)
        newest = max([call.time_ns for call in llm_calls] + [p.time_ns for p in predictions])
        self._advance(org_id, newest)
        hits: dict[str, Hit] = {}
        for call in llm_calls:
            for hit in _event_hits(rules, call, services.get((call.trace_id, call.span_id), "")):
                _merge(hits, hit)
        for prediction in predictions:
            rule = rules.rules.get("high_latency")
            service = services.get((prediction.trace_id, prediction.span_id), "")
            target = Target(
                "prediction",
                service,
                prediction.model_name,
                prediction.model_version or "",
                prediction.environment or "",
            )
            if (
                rule is not None
                and rule.threshold is not None
                and rule.in_scope("prediction", service, prediction.model_name, target.environment)
                and prediction.latency_ms > rule.threshold
            ):
                _merge(
                    hits,
                    _latency_hit(
                        rule, target, prediction.latency_ms, prediction.time_ns, prediction.trace_id
                    ),
                )
        now = time.time_ns()
        notices = [store.record(connection, org_id, hit, now) for hit in hits.values()]
        self.submit_on_commit(connection, [n for n in notices if n is not None])

    def submit_on_commit(self, connection: Connection, notices: list[AnomalyNotice]) -> None:
        """Send ``notices`` once ``connection``'s transaction commits; never if it rolls back
        (the writer then runs the job again, which makes its own notices)."""
        if not notices:
            return
        sink = self.sink_source()
        stage = getattr(sink, "stage", None)
        if stage is not None:  # the dispatcher's outbox: the rows commit with the anomalies
            try:
                with connection.begin_nested():
                    stage(connection, notices)
            except Exception:
                self.errors += 1
                logger.exception("aither server: the delivery log could not be written; sending after commit")
            else:
                sa.event.listen(connection, "commit", lambda _c: sink.wake(), once=True)  # type: ignore[union-attr]
                return

        pending = list(notices)

        def committed(_connection: Connection) -> None:
            while pending:
                self.submit(pending.pop(0))

        def rolled_back(_connection: Connection) -> None:
            pending.clear()

        sa.event.listen(connection, "commit", committed, once=True)
        sa.event.listen(connection, "rollback", rolled_back, once=True)

    def _remember(
        self,
        org_id: str,
        llm_calls: Sequence[LlmCallRecord],
        predictions: Sequence[PredictionRecord],
        services: Mapping[tuple[str, str], str],
    ) -> None:
        """Keep the batch's calls in the recent view the window rules read for "right now"."""
        recent = self._recent.setdefault(org_id, RecentCalls())
        for call in llm_calls:
            key = rollups.key_of_call(call, services)
            tokens = (call.input_tokens or 0) + (call.output_tokens or 0)
            recent.add(key, RecentCall(call.time_ns, call.latency_ms, call.cost_usd, tokens, call.is_error))
        for prediction in predictions:
            key = rollups.key_of_prediction(prediction, services)
            recent.add(
                key, RecentCall(prediction.time_ns, prediction.latency_ms, None, 0, prediction.is_error)
            )

    # --- window rules and resolution, on the writer thread about once a second -------------------

    def tick(self, engine: Engine) -> None:
        """Evaluate every organisation's window rules and resolve cleared anomalies.

        With a :attr:`lease`, only while this server holds it, each organisation's transaction
        fenced by its token (a server that lost the lease meanwhile writes nothing).
        """
        from ..lease import PERIODIC, LeaseLost, fence  # here: the lease imports storage, which imports us

        token = self.lease() if self.lease is not None else None
        if not self.enabled or (self.lease is not None and token is None):
            return
        with self._lock:
            orgs = list(self._clocks)
        if self.shared:
            with engine.connect() as connection:
                orgs = list(dict.fromkeys([*orgs, *shared.organisations(connection)]))
        for org_id in orgs:
            try:
                with engine.begin() as connection:
                    if token is not None:
                        fence(connection, PERIODIC, token)
                    if self.shared:
                        newest = shared.newest_event_ns(connection, org_id, self.telemetry)
                        if newest is None:
                            continue
                        self._advance(org_id, newest)
                    notices = self.evaluate(connection, org_id, self.now_ns(org_id))
                    self.submit_on_commit(connection, notices)
            except LeaseLost:
                return
            except Exception:
                self.errors += 1
                logger.exception("aither server: window rules failed for %s; trying again next tick", org_id)

    def evaluate(self, connection: Connection, org_id: str, now_ns: int) -> list[AnomalyNotice]:
        """One tick for one organisation at event time ``now_ns``; the notices to send."""
        rules = self.rules_for(org_id)
        window_rules = [rule for rule in rules if rule.kind == "window" and rule.enabled]
        longest = max([BASELINE_MINUTES * 60.0, *(rule.window_s for rule in window_rules)])
        current_minute = now_ns - now_ns % MINUTE_NS
        fresh_from = current_minute - FRESH_MINUTES * MINUTE_NS
        history = self._history.get(org_id)
        if history is None or history.minute != current_minute or history.rules is not rules:
            # the closed minutes change only with late data: read them once per minute
            old = rollups.read(
                connection, org_id, fresh_from - int(longest * 1e9), fresh_from, histogram=False
            )
            history = History(
                current_minute, rules, {group_of(r): series_of(group_of(r), old) for r in window_rules}
            )
            self._history[org_id] = history
        fresh = rollups.read(connection, org_id, fresh_from, None, histogram=False)
        fresh_series = {group: series_of(group, fresh) for group in history.series}
        if self.shared:  # the other servers' calls too; this server's memory has only its own
            recent = shared.recent_calls(connection, org_id, now_ns, self.telemetry)
        else:
            recent = self._recent.get(org_id) or RecentCalls()
        notices: list[AnomalyNotice] = []
        firing: set[str] = set()
        wall = time.time_ns()
        for rule in window_rules:
            latest = recent.view(rule, now_ns)
            group = group_of(rule)
            old_series, new_series = history.series.get(group, {}), fresh_series.get(group, {})
            for target in old_series.keys() | new_series.keys():
                if target.kind not in rule.applies_to:
                    continue
                series = {**old_series.get(target, {}), **new_series.get(target, {})}
                hit = window_hit(rule, target, series, latest.get(target, ()), now_ns)
                if hit is not None:
                    firing.add(store.open_key(rule.name, target))
                    notice = store.record(connection, org_id, hit, wall, per_minute=True)
                    if notice is not None:
                        notices.append(notice)
        from ..drift.rules import owned_by_drift  # here: drift imports detection

        for row in list(store.open_rows(connection, org_id)):
            rule = rules.rules.get(row["rule"])
            if row["open_key"] in firing or (rule is None and owned_by_drift(row["rule"])):
                continue  # drift's anomalies resolve when drift sees a clean window, not by quiet
            windowed = rule is not None and rule.kind == "window"
            quiet = max(rule.window_s, 60.0) if rule is not None and windowed else rules.quiet_period_s
            if row["last_seen_ns"] < now_ns - int(quiet * 1e9):
                notices.append(store.resolve(connection, row, wall))
        return notices


def _merge(hits: dict[str, Hit], hit: Hit) -> None:
    key = store.open_key(hit.rule.name, hit.target)
    seen = hits.get(key)
    if seen is None:
        hits[key] = hit
        return
    seen.count += hit.count
    if hit.time_ns >= seen.time_ns:
        seen.time_ns, seen.message, seen.evidence = hit.time_ns, hit.message, hit.evidence


def _latency_hit(rule: Rule, target: Target, latency_ms: float, time_ns: int, trace_id: str) -> Hit:
    return Hit(
        rule,
        target,
        time_ns,
        f"a call took {latency_ms:,.0f} ms (threshold {rule.threshold:,.0f} ms)",
        {"latency_ms": latency_ms, "threshold": rule.threshold, "trace_id": trace_id},
        trace_id=trace_id,
    )


def _event_hits(rules: RuleSet, call: LlmCallRecord, service: str) -> list[Hit]:
    target = Target("llm", service, call.model)
    out: list[Hit] = []
    evidence: dict[str, Any] = {"trace_id": call.trace_id, "span_id": call.span_id}
    tokens = (call.input_tokens or 0) + (call.output_tokens or 0)
    for rule in rules:
        if rule.kind != "event" or not rule.in_scope("llm", service, call.model, ""):
            continue
        threshold = rule.threshold
        message: str | None = None
        if rule.name == "high_cost" and threshold is not None and (call.cost_usd or 0.0) > threshold:
            message = f"a call cost ${call.cost_usd:.4f} (threshold ${threshold:.2f})"
            extra: dict[str, Any] = {"cost_usd": call.cost_usd, "threshold": threshold}
        elif rule.name == "high_latency" and threshold is not None and call.latency_ms > threshold:
            out.append(_latency_hit(rule, target, call.latency_ms, call.time_ns, call.trace_id))
        elif rule.name == "high_token_usage" and threshold is not None and tokens > threshold:
            message = f"a call used {tokens:,} tokens (threshold {threshold:,.0f})"
            extra = {"tokens": tokens, "threshold": threshold}
        elif rule.name == "request_failure" and call.is_error:
            message = f"a call failed ({call.error_type or 'error'})"
            extra = {"error_type": call.error_type}
        elif rule.name == "prompt_injection" and call.injection_detected:
            message = f"prompt injection attempt (score {call.injection_score or 0:.2f})"
            extra = {"injection_score": call.injection_score, "injection_rules": call.injection_rules}
        elif rule.name == "pii_detected" and call.pii_detected:
            message = "personally identifiable information (PII) detected"
            extra = {"pii_counts": call.pii_counts}
        if message is not None:
            out.append(
                Hit(rule, target, call.time_ns, message, {**evidence, **extra}, trace_id=call.trace_id)
            )
    return out


_ATTACHED: weakref.WeakKeyDictionary[Engine, Detection] = weakref.WeakKeyDictionary()
_DEFAULT = Detection()


def attach(engine: Engine, detection: Detection) -> None:
    """Make ``detection`` the one ingest jobs on ``engine`` use."""
    _ATTACHED[engine] = detection


def detection_for(engine: Engine) -> Detection:
    """The detection attached to ``engine`` (a default one with the default rules if none)."""
    return _ATTACHED.get(engine, _DEFAULT)
