"""What a full queue costs the garbage collector, and so the caller.

With the receiver down, spans pile up in the queue. Each queued span keeps objects alive that
the cyclic garbage collector walks on every full collection, and a full collection runs inside
whichever call happens to trigger it. For each variant this counts the GC-tracked objects each
queued span keeps (``gc.get_objects()`` before and after, over the spans queued), records
every collection the loop triggered by itself (``gc.callbacks``: the slowest full one, and
the slowest of any generation), times every call of the loop, and then times ``gc.collect()``
with the spans still queued.

Variants: a hand-written OpenTelemetry span with the same attributes (as
:mod:`benchmarks.overhead` builds it) on the SDK's BatchSpanProcessor; aither as it was before
encoding ahead (``aither.export.pipeline.ENCODE_AHEAD = False``: the queue holds the
ReadableSpans); and aither (the queue holds encoded requests). Each runs in a process of its
own, so that one variant's queue is not walked by another's collections; receivers: a port
that refuses connections (backend down) and one that accepts and never answers (silent).

    python -m benchmarks.gc_queue [--spans 12000] [--collections 5] [--receiver refused silent]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from ._common import ROOT, quiet_env, table

VARIANTS = ("hand-written", "aither before", "aither")


@contextlib.contextmanager
def receiver(kind: str) -> Iterator[str]:
    """``silent``: a port that takes connections (the kernel's backlog) and never answers.
    ``refused``: a port nothing listens on (bound and never listened to, so not reused)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    if kind == "silent":
        server.listen(1024)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def _tracked_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def measure(call: Callable[[], Any], spans: int, collections: int) -> dict[str, float]:
    for _ in range(10):
        call()
    before = _tracked_objects()
    clock = time.perf_counter_ns
    times = []
    pauses: list[tuple[int, int]] = []  # (generation, ns) of the collections the loop triggered
    started = [0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = clock()
        else:
            pauses.append((info["generation"], clock() - started[0]))

    gc.callbacks.append(on_gc)
    try:
        for _ in range(spans):
            start = clock()
            call()
            times.append(clock() - start)
    finally:
        gc.callbacks.remove(on_gc)
    per_span = (_tracked_objects() - before) / spans
    collected = []
    for _ in range(collections):
        start = clock()
        gc.collect()
        collected.append(clock() - start)
    times.sort()
    full = [ns for generation, ns in pauses if generation == 2]
    return {
        "objects": per_span,
        "gc_max": max(collected) / 1e6,
        "gc_p99": collected[min(len(collected) - 1, int(0.99 * len(collected)))] / 1e6,
        "auto_full": len(full),
        "auto_full_max": max(full, default=0) / 1e6,
        "auto_young_max": max((ns for generation, ns in pauses if generation < 2), default=0) / 1e6,
        "call_max": times[-1] / 1e6,
        "call_p99": times[int(0.99 * len(times))] / 1e6,
    }


def run_variant(variant: str, kind: str, spans: int, collections: int) -> dict[str, float]:
    """One variant, in this process: queue ``spans`` predictions against a receiver that is down."""
    import numpy as np

    quiet_env()
    X = np.zeros((1, 4))
    from .overhead import Trivial, handwritten

    model = Trivial()
    with receiver(kind) as url:
        if variant == "hand-written":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            provider = TracerProvider()
            provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=url + "/v1/traces", timeout=120),
                    max_queue_size=spans * 2,
                    max_export_batch_size=512,
                    schedule_delay_millis=500,
                )
            )
            hand = handwritten(provider.get_tracer("handwritten"), model, "bench")
            result = measure(lambda: hand(X), spans, collections)
            result["queued"] = -1
            return result
        import aither
        from aither.export import pipeline

        pipeline.ENCODE_AHEAD = variant == "aither"
        client = aither.Client(
            api_key="bench", base_url=url, export_timeout=120, max_queue_size=spans * 2, flush_interval=0.5
        )
        tracked = client.wrap(model, name="bench")
        result = measure(lambda: tracked.predict(X), spans, collections)
        result["queued"] = client.stats().queued
        return result


def run(spans: int, collections: int, kinds: list[str]) -> str:
    rows = []
    queued = {}
    for kind in kinds:
        for variant in VARIANTS:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.gc_queue", "--one", variant, "--receiver", kind,
                 "--spans", str(spans), "--collections", str(collections)],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )  # fmt: skip
            m = json.loads(proc.stdout.strip().splitlines()[-1])
            queued[(kind, variant)] = int(m["queued"])
            rows.append(
                [
                    kind,
                    variant,
                    f"{m['objects']:.2f}",
                    f"{m['gc_p99']:.1f}",
                    f"{m['gc_max']:.1f}",
                    f"{int(m['auto_full'])}",
                    f"{m['auto_full_max']:.1f}",
                    f"{m['auto_young_max']:.1f}",
                    f"{m['call_p99']:.3f}",
                    f"{m['call_max']:.1f}",
                ]
            )
    text = table(
        rows,
        [
            "receiver",
            "variant",
            "GC-tracked objects / queued span",
            "gc.collect() p99 ms",
            "gc.collect() max ms",
            "full GCs in the loop",
            "slowest full GC in the loop ms",
            "slowest young GC in the loop ms",
            "call p99 ms",
            "slowest call ms",
        ],
    )
    counts = ", ".join(f"{v} against {k} queued {n:,}" for (k, v), n in queued.items() if n >= 0)
    text += (
        f"\n\n{spans:,} trivial 1-row predictions per variant, each in a process of its own, with the "
        f"receiver down ({counts}); {collections} full collections timed after the loop."
    )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=12_000)
    parser.add_argument("--collections", type=int, default=5)
    parser.add_argument("--receiver", nargs="+", choices=("refused", "silent"), default=["refused", "silent"])
    parser.add_argument("--one", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_variant(args.one, args.receiver[0], args.spans, args.collections)))
    else:
        print(run(args.spans, args.collections, args.receiver))
    sys.stdout.flush()
    # The exports to a receiver that is down never end: leave without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    main()
