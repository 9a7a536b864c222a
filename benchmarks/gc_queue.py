"""What a full queue costs the garbage collector, and so the caller.

With the receiver silent (it accepts connections and never answers), spans pile up in the
queue. Each queued span keeps objects alive that the cyclic garbage collector walks on every
full collection, and a full collection runs inside whichever call happens to trigger it. This
counts the GC-tracked objects each queued span keeps (``gc.get_objects()`` before and after,
over the spans queued), times ``gc.collect()`` with them queued, and times every call of the
loop that queued them: aither against a hand-written OpenTelemetry span with the same
attributes (as :mod:`benchmarks.overhead` builds it).

    python -m benchmarks.gc_queue [--spans 12000] [--collections 5]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._common import quiet_env, table


@contextlib.contextmanager
def silent_receiver() -> Iterator[str]:
    """A port that takes connections (the kernel's backlog) and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
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
    for _ in range(spans):
        start = clock()
        call()
        times.append(clock() - start)
    per_span = (_tracked_objects() - before) / spans
    pauses = []
    for _ in range(collections):
        start = clock()
        gc.collect()
        pauses.append(clock() - start)
    return {
        "objects": per_span,
        "gc_max": max(pauses) / 1e6,
        "gc_median": statistics.median(pauses) / 1e6,
        "call_max": max(times) / 1e6,
        "call_p99": sorted(times)[int(0.99 * len(times))] / 1e6,
    }


def run(spans: int, collections: int) -> str:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import aither

    from .overhead import Trivial, handwritten

    quiet_env()
    X = np.zeros((1, 4))
    model = Trivial()
    rows = []
    with silent_receiver() as url, silent_receiver() as url2:
        client = aither.Client(
            api_key="bench", base_url=url, export_timeout=120, max_queue_size=spans * 2, flush_interval=0.5
        )
        tracked = client.wrap(model, name="bench")
        ours = measure(lambda: tracked.predict(X), spans, collections)
        queued = client.stats().queued
        client.close(timeout=0)
        provider = TracerProvider()
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=url2 + "/v1/traces", timeout=120),
                max_queue_size=spans * 2,
                max_export_batch_size=512,
                schedule_delay_millis=500,
            )
        )
        hand = handwritten(provider.get_tracer("handwritten"), model, "bench")
        theirs = measure(lambda: hand(X), spans, collections)
    for name, m in (("hand-written", theirs), ("aither", ours)):
        rows.append(
            [
                name,
                f"{m['objects']:.1f}",
                f"{m['gc_median']:.1f}",
                f"{m['gc_max']:.1f}",
                f"{m['call_p99']:.3f}",
                f"{m['call_max']:.1f}",
            ]
        )
    text = table(
        rows,
        [
            "variant",
            "GC-tracked objects / queued span",
            "gc.collect() median ms",
            "gc.collect() max ms",
            "call p99 ms",
            "slowest call ms",
        ],
    )
    text += (
        f"\n\n{spans:,} trivial 1-row predictions queued against a silent receiver "
        f"(aither queued {queued:,}); {collections} full collections timed."
    )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=12_000)
    parser.add_argument("--collections", type=int, default=5)
    args = parser.parse_args()
    print(run(args.spans, args.collections))
    sys.stdout.flush()
    # The silent receiver's exports never return: leave without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    main()
