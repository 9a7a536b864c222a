"""Detection: precision, recall and delay per anomaly type on a synthetic stream, false alarms
per hour on a stream without any, and ingest throughput with detection on against off.

The stream is replayed through the real ingest path (OTLP protobuf → decoder → the writer's
ingest job, which keeps the rollups and runs the event rules) into a real SQLite store, with
explicit span times: simulated hours replay in seconds because the server judges by event time.
After every 5 simulated seconds the window rules are evaluated at that event time, as the
server's once-a-second tick would have done live; delays are in event time, to that 5 s step.

- ``chat``: an LLM service at ~20 calls/min; ``scoring``: a model (``fraud`` v1) at ~30 calls/min;
- after a clean hour, each of 15 injections (every rule and time-series type) twice, 15 minutes
  apart; an anomaly counts for an injection when its rule is one the injection should raise and
  it opens between the injection's start and two minutes after its end; rules an injection
  raises along the way (a slow call also moves the latency baseline) are neither hits nor false
  alarms; anything else is a false alarm.

    python -m benchmarks.detection [--rounds 2] [--clean-hours 3] [--n 20000]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from aither.schema import semconv as sc
from aither.server import ServerSettings, Storage
from aither.server.bootstrap import bootstrap
from aither.server.detection import anomalies as store
from aither.server.ingest.decode import decode_export_request
from aither.server.storage.ingest import IngestJob

from ._common import table

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
STEP = 5 * SECOND
LLM_RATE, PREDICTION_RATE = 20.0, 30.0  # calls per minute


@dataclass
class Call:
    time_ns: int
    kind: str  # llm | prediction
    latency_ms: float
    error: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    pii: bool = False
    injection: bool = False


@dataclass
class Injection:
    name: str
    kind: str
    expected: frozenset[str]
    also: frozenset[str]
    start_ns: int = 0
    end_ns: int = 0
    detected_ns: int | None = None


@dataclass
class Effect:
    """How an injection changes the stream: a function of a normal call (or extra calls)."""

    name: str
    kind: str
    expected: set[str]
    also: set[str] = field(default_factory=set)
    minutes: float = 0.0
    change: Callable[[Call, random.Random], None] | None = None
    single: Callable[[Call], None] | None = None
    rate: float | None = None  # calls per minute during the injection, instead of the normal rate


EFFECTS: list[Effect] = [
    Effect("high_cost", "llm", {"high_cost"}, {"cost_spike", "high_cost_rate"},
           single=lambda c: setattr(c, "cost", 0.8)),
    Effect("cost_spike", "llm", {"cost_spike"}, {"high_cost_rate"}, 3,
           change=lambda c, r: setattr(c, "cost", c.cost * 8)),
    Effect("high_latency", "llm", {"high_latency"}, {"latency_spike"},
           single=lambda c: setattr(c, "latency_ms", 7000.0)),
    Effect("latency_spike", "llm", {"latency_spike"}, {"high_latency"}, 3,
           change=lambda c, r: setattr(c, "latency_ms", c.latency_ms * 5)),
    Effect("high_token_usage", "llm", {"high_token_usage"}, {"token_spike", "cost_spike"},
           single=lambda c: (setattr(c, "tokens_in", 9500), setattr(c, "cost", 0.019))),
    Effect("token_spike", "llm", {"token_spike"}, {"cost_spike", "high_cost_rate"}, 3,
           change=lambda c, r: (setattr(c, "tokens_in", c.tokens_in * 6), setattr(c, "cost", c.cost * 6))),
    Effect("request_failure", "llm", {"request_failure"}, set(), single=lambda c: setattr(c, "error", True)),
    Effect("prompt_injection", "llm", {"prompt_injection"}, set(),
           single=lambda c: setattr(c, "injection", True)),
    Effect("pii_detected", "llm", {"pii_detected"}, set(), single=lambda c: setattr(c, "pii", True)),
    Effect("high_error_rate", "llm", {"high_error_rate"}, {"request_failure", "model_errors"}, 5,
           change=lambda c, r: setattr(c, "error", r.random() < 0.4)),
    Effect("model_errors", "prediction", {"model_errors"}, {"high_error_rate"}, 5,
           change=lambda c, r: setattr(c, "error", r.random() < 0.3)),
    Effect("high_request_rate", "llm", {"high_request_rate"}, {"high_cost_rate"}, 3, rate=150.0),
    Effect("high_cost_rate", "llm", {"high_cost_rate"}, {"cost_spike"}, 10,
           change=lambda c, r: setattr(c, "cost", 0.05)),
    Effect("throughput_degradation", "prediction", {"throughput_degradation"}, set(), 6, rate=2.0),
    Effect("latency_spike (model)", "prediction", {"latency_spike"}, {"high_latency"}, 3,
           change=lambda c, r: setattr(c, "latency_ms", c.latency_ms * 6)),
]  # fmt: skip


def normal_call(kind: str, time_ns: int, rng: random.Random) -> Call:
    if kind == "prediction":
        return Call(time_ns, kind, 20.0 * math.exp(rng.gauss(0, 0.3)))
    tokens_in, tokens_out = max(10, int(rng.gauss(400, 80))), max(5, int(rng.gauss(150, 40)))
    return Call(
        time_ns, kind, 800.0 * math.exp(rng.gauss(0, 0.3)), tokens_in=tokens_in, tokens_out=tokens_out,
        cost=(tokens_in + tokens_out) * 2e-6,
    )  # fmt: skip


def build_stream(hours: float, rounds: int, seed: int, start_ns: int) -> tuple[list[Call], list[Injection]]:
    rng = random.Random(seed)
    end_ns = start_ns + int(hours * 3600 * SECOND)
    plan: list[tuple[Effect, int]] = []
    slot = start_ns + 60 * MINUTE
    for _ in range(rounds):
        for effect in EFFECTS:
            plan.append((effect, slot + int(rng.uniform(0, 5 * MINUTE))))
            slot += 15 * MINUTE
    injections = [
        Injection(e.name, e.kind, frozenset(e.expected), frozenset(e.also), at, at + int(e.minutes * MINUTE))
        for e, at in plan
    ]
    calls: list[Call] = []
    for kind, base_rate in (("llm", LLM_RATE), ("prediction", PREDICTION_RATE)):
        active = [(e, inj) for (e, _), inj in zip(plan, injections, strict=True) if e.kind == kind]
        t = start_ns
        while t < end_ns:
            running = [(e, inj) for e, inj in active if e.minutes and inj.start_ns <= t < inj.end_ns]
            rate = next((e.rate for e, _ in running if e.rate is not None), base_rate)
            t += int(rng.expovariate(rate / 60.0) * SECOND)
            call = normal_call(kind, t, rng)
            for effect, _ in running:
                if effect.change is not None:
                    effect.change(call, rng)
            calls.append(call)
        for effect, injection in active:
            if effect.single is not None:
                call = normal_call(kind, injection.start_ns, rng)
                effect.single(call)
                calls.append(call)
    calls.sort(key=lambda call: call.time_ns)
    return calls, injections


def _attr(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def to_span(call: Call) -> Span:
    span = Span(
        trace_id=os.urandom(16), span_id=os.urandom(8), kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=call.time_ns, end_time_unix_nano=call.time_ns + int(call.latency_ms * 1e6),
    )  # fmt: skip
    if call.kind == "llm":
        span.name = "chat gpt-4o-mini"
        values: dict[str, Any] = {
            sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LLM, sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
            sc.GEN_AI_USAGE_INPUT_TOKENS: call.tokens_in, sc.GEN_AI_USAGE_OUTPUT_TOKENS: call.tokens_out,
            sc.AITHER_COST_USD: call.cost, sc.AITHER_PII_DETECTED: call.pii,
            sc.AITHER_INJECTION_SCORE: 0.9 if call.injection else 0.0,
            sc.AITHER_INJECTION_DETECTED: call.injection,
        }  # fmt: skip
    else:
        span.name = "predict fraud"
        values = {
            sc.AITHER_SPAN_KIND: sc.SPAN_KIND_PREDICTION, sc.ML_MODEL_NAME: "fraud", sc.ML_MODEL_VERSION: "1",
            sc.ML_ENVIRONMENT: "prod", sc.ML_PREDICTION: '{"sample": [1], "_meta": {"rows": 1}}',
            sc.ML_OUTPUT_ROWS: 1,
        }  # fmt: skip
    span.attributes.extend(_attr(k, v) for k, v in values.items())
    if call.error:
        span.status.code = Status.STATUS_CODE_ERROR
        span.status.message = "upstream error"
    return span


def encode(calls: Iterable[Call]) -> bytes:
    message = ExportTraceServiceRequest()
    by_service: dict[str, list[Span]] = {"chat": [], "scoring": []}
    for call in calls:
        by_service["chat" if call.kind == "llm" else "scoring"].append(to_span(call))
    for service, spans in by_service.items():
        if spans:
            resource = message.resource_spans.add()
            resource.resource.attributes.append(_attr(sc.SERVICE_NAME, service))
            resource.scope_spans.add().spans.extend(spans)
    return message.SerializeToString()


def ingest(storage: Storage, org_id: str, body: bytes) -> None:
    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    storage.writer.submit(IngestJob(org_id, decode_export_request(message), time.time_ns())).result(120)


def open_store(home: Path) -> tuple[Storage, str]:
    settings = ServerSettings(
        home=home, database_url=f"sqlite:///{home / 'aither.db'}", announce=False, write_credentials=False
    )
    storage = Storage.open(settings.database_url)
    result = bootstrap(storage, settings)
    assert result.org_id is not None
    return storage, result.org_id


def replay(calls: list[Call], home: Path, until_ns: int) -> tuple[list[dict[str, Any]], float]:
    """Ingest the stream 5 simulated seconds at a time, evaluating after each; the anomalies opened."""
    storage, org_id = open_store(home)
    started = time.perf_counter()
    try:
        index = 0
        t = calls[0].time_ns - calls[0].time_ns % STEP
        while index < len(calls):
            t += STEP
            batch = []
            while index < len(calls) and calls[index].time_ns < t:
                batch.append(calls[index])
                index += 1
            if batch:
                ingest(storage, org_id, encode(batch))
            now = t
            if now > until_ns:  # past the stream's end every rate drops; that is not an anomaly
                continue
            storage.writer.run(lambda c, now=now: storage.detection.evaluate(c, org_id, now))  # type: ignore[misc]
        with storage.read() as connection:
            found = store.list_rows(connection, org_id, limit=100_000)
    finally:
        storage.close()
    return found, time.perf_counter() - started


def score(
    found: list[dict[str, Any]], injections: list[Injection]
) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """Per injection type: found, recall, precision, delays; and the unexplained anomalies.

    Precision of a type is the share of the anomalies of its rules that an injection explains.
    """
    unexplained = []
    for anomaly in sorted(found, key=lambda a: a["first_seen_ns"]):
        matched = explained = False
        for injection in injections:
            if anomaly["kind"] != injection.kind:
                continue
            if not injection.start_ns <= anomaly["first_seen_ns"] <= injection.end_ns + 2 * MINUTE:
                continue
            if anomaly["rule"] in injection.expected:
                matched = True
                if injection.detected_ns is None:
                    injection.detected_ns = anomaly["first_seen_ns"]
            elif anomaly["rule"] in injection.also:
                explained = True
        if not matched and not explained:
            unexplained.append(anomaly)
    false_ids = {a["id"] for a in unexplained}
    rows = []
    for name in dict.fromkeys(i.name for i in injections):
        runs = [i for i in injections if i.name == name]
        hits = [i for i in runs if i.detected_ns is not None]
        delays = [(i.detected_ns - i.start_ns) / SECOND for i in hits if i.detected_ns is not None]
        rule_names = set().union(*(i.expected for i in runs))
        raised = [a for a in found if a["rule"] in rule_names and a["kind"] == runs[0].kind]
        wrong = [a for a in raised if a["id"] in false_ids]
        rows.append(
            [
                name,
                f"{len(hits)}/{len(runs)}",
                f"{len(hits) / len(runs):.0%}",
                f"{1 - len(wrong) / len(raised):.0%}" if raised else "-",
                f"{statistics.median(delays):.0f} s" if delays else "-",
                f"{max(delays):.0f} s" if delays else "-",
            ]
        )
    return rows, unexplained


def throughput(n: int, detect: bool, home: Path) -> float:
    rng = random.Random(7)
    start = time.time_ns() - 3600 * SECOND
    calls = [
        normal_call("llm" if i % 5 < 2 else "prediction", start + i * (3600 * SECOND // n), rng)
        for i in range(n)
    ]
    bodies = [encode(calls[i : i + 500]) for i in range(0, n, 500)]
    storage, org_id = open_store(home)
    storage.detection.enabled = detect
    try:
        begin = time.perf_counter()
        futures = []
        for body in bodies:
            message = ExportTraceServiceRequest()
            message.ParseFromString(body)
            futures.append(
                storage.writer.submit(IngestJob(org_id, decode_export_request(message), time.time_ns()))
            )
        for future in futures:
            future.result(300)
        return n / (time.perf_counter() - begin)
    finally:
        storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="times each injection is made")
    parser.add_argument(
        "--clean-hours", type=float, default=3.0, help="length of the stream without anomalies"
    )
    parser.add_argument("--n", type=int, default=20_000, help="spans per throughput run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="throughput runs of each (median)")
    parser.add_argument("--throughput-only", action="store_true")
    args = parser.parse_args()
    base = time.time_ns() - 48 * 3600 * SECOND
    base -= base % MINUTE
    hours = 1 + args.rounds * len(EFFECTS) * 0.25 + 0.25
    calls, injections = build_stream(hours, args.rounds, args.seed, base)
    with tempfile.TemporaryDirectory(prefix="aither-detect-") as tmp:
        if not args.throughput_only:
            quality(args, calls, injections, hours, base, Path(tmp))
        on, off = [], []
        for attempt in range(args.repeat):  # interleaved, so a busy spell of the machine hits both
            off.append(throughput(args.n, False, Path(tmp) / f"off{attempt}"))
            on.append(throughput(args.n, True, Path(tmp) / f"on{attempt}"))
        on_s, off_s = statistics.median(on), statistics.median(off)
        print(
            table(
                [
                    ["detection off", f"{off_s:,.0f}"],
                    ["detection on", f"{on_s:,.0f}"],
                    ["on / off", f"{on_s / off_s:.0%}"],
                ],
                ["ingest (decode + store), SQLite", f"spans/s (median of {args.repeat})"],
            )
        )


def quality(
    args: argparse.Namespace,
    calls: list[Call],
    injections: list[Injection],
    hours: float,
    base: int,
    tmp: Path,
) -> None:
    """The injected stream's table and the clean stream's false alarms."""
    found, elapsed = replay(calls, tmp / "injected", base + int(hours * 3600 * SECOND))
    rows, unexplained = score(found, injections)
    print(f"Injected stream: {hours:.2f} simulated hours, {len(calls):,} calls, replayed in {elapsed:.0f} s")
    print(table(rows, ["injection", "found", "recall", "precision", "median delay", "max delay"]))
    print(
        f"unexplained anomalies on the injected stream: {len(unexplained)} "
        f"({len(unexplained) / hours:.2f}/hour)"
        + "".join(f"\n  {a['rule']} {a['kind']} {a['message']}" for a in unexplained)
    )
    clean, _ = build_stream(args.clean_hours, 0, args.seed + 1, base)
    clean_found, _ = replay(clean, tmp / "clean", base + int(args.clean_hours * 3600 * SECOND))
    print(
        f"Clean stream: {args.clean_hours:.1f} simulated hours, {len(clean):,} calls: "
        f"{len(clean_found)} anomalies ({len(clean_found) / args.clean_hours:.2f} false alarms/hour)"
        + (f": {sorted({a['rule'] for a in clean_found})}" if clean_found else "")
    )


if __name__ == "__main__":
    main()
