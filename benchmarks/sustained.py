"""Overhead under sustained load: what a busy service pays, export thread included.

The other benchmarks report the median of single calls; the work the export thread does
between calls (JSON of the samples, the OTLP protobuf, the HTTP request) does not show
there. Here each workload is called in a loop for ``--seconds`` with export running, the
real BatchSpanProcessor and OTLP/HTTP exporter sending to a real receiver in another
process (``benchmarks.sink``), and each loop ends with a flush, so every variant pays for
the export of what it made. Variants: the raw call, a hand-written OpenTelemetry span with
the same attributes and the same JSON sampling (as :mod:`benchmarks.overhead` and
:mod:`benchmarks.llm` build it: on the LLM workloads every attribute aither's span carries,
the cost and the scans' findings included), and aither; the LLM workloads add a hand-written
span with the GenAI request and response attributes alone. Rounds interleave the variants, so that a load
spike on a shared machine lands on all of them alike.

Reported per call: the sustained mean (loop and flush wall time over calls), p50 and p99 of
single calls, and the process CPU (every thread: the caller's and the export thread's) with
the raw call's subtracted; ``export share`` is the part of the instrumented variant's
process CPU spent outside the calling thread. ``noise`` is the spread (max - min) of the
raw call's per-round CPU per call: a difference smaller than it is not a measurement.

    python -m benchmarks.sustained [--seconds 2] [--rounds 3] [--only trivial,llm]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._common import otel_tracer, quiet_env, sink, table

VARIANTS = ("raw", "hand-written", "aither")
LEAN = "hand-written, GenAI only"
"""The LLM workloads' second hand-written span: the GenAI request and response attributes
alone, without the cost, the usage details and the scans' findings that aither's span and
the "hand-written" one carry."""


@dataclass
class Slice:
    """One variant's loop in one round."""

    calls: int
    wall_ns: int  # loop and flush
    cpu_ns: int  # process CPU, every thread, loop and flush
    main_cpu_ns: int  # the calling thread's CPU
    times: list[int] = field(default_factory=list)


@dataclass
class Workload:
    label: str
    key: str
    fns: dict[str, Callable[[], Any]]
    flush: dict[str, Callable[[], Any]]


def _loop(fn: Callable[[], Any], flush: Callable[[], Any], seconds: float) -> Slice:
    clock = time.perf_counter_ns
    times: list[int] = []
    append = times.append
    deadline = clock() + int(seconds * 1e9)
    cpu0, main0, wall0 = time.process_time_ns(), time.thread_time_ns(), clock()
    while True:
        start = clock()
        fn()
        end = clock()
        append(end - start)
        if end > deadline:
            break
    flush()
    wall1, cpu1, main1 = clock(), time.process_time_ns(), time.thread_time_ns()
    return Slice(len(times), wall1 - wall0, cpu1 - cpu0, main1 - main0, times)


def _ratio(ours: float, base: float) -> str:
    return f"{ours / base:.2f}" if base > 0 else "-"


def _p(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


@contextmanager
def _setup(only: set[str]) -> Iterator[tuple[list[Workload], Any]]:
    import aither

    from . import llm, overhead

    quiet_env()
    with ExitStack() as stack:
        base_url = stack.enter_context(sink())
        client = aither.Client(api_key="bench", base_url=base_url)
        stack.callback(client.close)
        tracer, provider = otel_tracer(base_url)
        stack.callback(provider.shutdown)

        def flush_aither() -> None:
            client.flush(60)

        def flush_hand() -> None:
            provider.force_flush()

        flushes = {"raw": lambda: None, "hand-written": flush_hand, "aither": flush_aither}
        workloads: list[Workload] = []
        keys = ["trivial", "sklearn", "frame", "big"]
        for key, (label, model, X) in zip(keys, overhead.workloads()):
            if only and key not in only:
                continue
            tracked = client.wrap(model, name="bench")
            hand = overhead.handwritten(tracer, model, "bench")
            fns = {
                "raw": lambda m=model, x=X: m.predict(x),
                "hand-written": lambda h=hand, x=X: h(x),
                "aither": lambda t=tracked, x=X: t.predict(x),
            }
            workloads.append(Workload(label, key, fns, flushes))
        if not only or "llm" in only:
            import openai

            api_url = stack.enter_context(llm.fake_openai())
            plain = openai.OpenAI(base_url=api_url, api_key="x", max_retries=0)
            hand_client = openai.OpenAI(base_url=api_url, api_key="x", max_retries=0)
            wrapped = client.wrap(openai.OpenAI(base_url=api_url, api_key="x", max_retries=0), name="bench")
            for c in (plain, hand_client, wrapped):
                stack.callback(c.close)
            # "hand-written" carries the same attributes as aither's span (the target's
            # comparison); "GenAI only" the request and response attributes alone.
            hand_call, hand_stream = llm.handwritten_same(tracer, hand_client)
            lean_call, lean_stream = llm.handwritten(tracer, hand_client)

            def call(c: Any) -> Callable[[], Any]:
                return lambda: c.chat.completions.create(model="gpt-4o-mini", messages=llm.MESSAGES)

            def consume(c: Any, **extra: Any) -> Callable[[], Any]:
                return lambda: sum(
                    1
                    for _ in c.chat.completions.create(
                        model="gpt-4o-mini", messages=llm.MESSAGES, stream=True, **extra
                    )
                )

            workloads.append(
                Workload(
                    "OpenAI chat completion",
                    "chat",
                    {
                        "raw": call(plain),
                        "hand-written": hand_call,
                        "aither": call(wrapped),
                        LEAN: lean_call,
                    },
                    {**flushes, LEAN: flush_hand},
                )
            )
            workloads.append(
                Workload(
                    f"OpenAI stream of {llm.CHUNKS} chunks",
                    "stream",
                    {
                        # The raw stream asks for usage too, as aither and the hand-written span do.
                        "raw": consume(plain, stream_options={"include_usage": True}),
                        "hand-written": hand_stream,
                        "aither": consume(wrapped),
                        LEAN: lean_stream,
                    },
                    {**flushes, LEAN: flush_hand},
                )
            )
            # The same stream without HTTP and without the SDK's parsing (chunks parsed once
            # beforehand): what the variants add, out of the noise of a ~10 ms parse.
            memory = llm.instant_streams(client, tracer, parsed=True)
            workloads.append(
                Workload(
                    f"OpenAI stream of {llm.CHUNKS} chunks, in memory",
                    "stream-memory",
                    {
                        "raw": memory["raw"],
                        "hand-written": memory["hand (same attributes)"],
                        "aither": memory["aither"],
                        LEAN: memory["hand (GenAI only)"],
                    },
                    {**flushes, LEAN: flush_hand},
                )
            )
        yield workloads, client


def run(seconds: float, rounds: int, only: set[str]) -> str:
    rows: list[list[str]] = []
    with _setup(only) as (workloads, client):
        for w in workloads:
            variants = tuple(w.fns)
            for variant in variants:  # warm up: imports, connections, caches
                _loop(w.fns[variant], w.flush[variant], min(0.3, seconds))
            slices: dict[str, list[Slice]] = {v: [] for v in variants}
            for r in range(rounds):
                order = variants if r % 2 == 0 else tuple(reversed(variants))
                for variant in order:
                    gc.collect()
                    slices[variant].append(_loop(w.fns[variant], w.flush[variant], seconds))
            raw_cpu_rounds = [s.cpu_ns / s.calls for s in slices["raw"]]
            noise = max(raw_cpu_rounds) - min(raw_cpu_rounds)
            summary: dict[str, dict[str, float]] = {}
            for variant, parts in slices.items():
                calls = sum(s.calls for s in parts)
                cpu = sum(s.cpu_ns for s in parts)
                times = [t for s in parts for t in s.times]
                summary[variant] = {
                    "mean": sum(s.wall_ns for s in parts) / calls,
                    "p50": statistics.median(times),
                    "p99": _p(times, 0.99),
                    "cpu": cpu / calls,
                    "export": (cpu - sum(s.main_cpu_ns for s in parts)) / cpu if cpu else 0.0,
                    "calls": calls,
                }
            raw = summary["raw"]
            hand, ours = summary["hand-written"], summary["aither"]

            def over(s: dict[str, float], key: str) -> float:
                return s[key] - raw[key]

            shown = [("hand-written", hand), ("aither", ours)]
            if LEAN in summary:
                shown.append((LEAN, summary[LEAN]))
            for name, s in shown:
                rows.append(
                    [
                        w.label if name == "hand-written" else "",
                        name,
                        f"{raw['mean'] / 1000:,.1f}",
                        f"{over(s, 'mean') / 1000:,.1f}",
                        f"{over(s, 'p50') / 1000:,.1f}",
                        f"{over(s, 'p99') / 1000:,.1f}",
                        f"{over(s, 'cpu') / 1000:,.1f}",
                        f"{s['export'] * 100:.0f}%",
                        f"{noise / 1000:,.1f}",
                        f"{int(s['calls']):,}",
                    ]
                )
            for name, base in (("hand-written", hand), (LEAN, summary.get(LEAN))):
                if base is None:
                    continue
                mean, cpu = (_ratio(over(ours, k), over(base, k)) for k in ("mean", "cpu"))
                rows.append(["", f"aither / {name}", "", mean, "", "", cpu, "", "", ""])
            print(f"done: {w.label}", file=sys.stderr, flush=True)
        stats = client.stats()
    text = table(
        rows,
        [
            "workload",
            "variant",
            "raw mean µs",
            "+mean µs",
            "+p50 µs",
            "+p99 µs",
            "+CPU/call µs",
            "export share",
            "raw CPU noise µs",
            "calls",
        ],
    )
    text += (
        f"\n\n{rounds} interleaved rounds of {seconds:g} s per variant; '+' is over the raw call; "
        "mean is loop and flush wall time over calls; CPU is process CPU, every thread."
        f"\naither ledger: {stats}"
    )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="loop length per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated: trivial,sklearn,frame,big,llm")
    args = parser.parse_args()
    only = {s for s in args.only.split(",") if s}
    print(run(args.seconds, args.rounds, only))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
