"""Shared by the benchmarks: a sink process, timing, and the hand-written OpenTelemetry baseline."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def sink() -> Iterator[str]:
    """Start ``benchmarks.sink`` in a subprocess; yields its base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.sink", str(port_file)], cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text()):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the benchmark sink did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port_file.read_text()}"
        finally:
            proc.terminate()
            proc.wait(10)


def sink_count(base_url: str) -> int:
    with urllib.request.urlopen(base_url + "/count") as response:
        return int(response.read())


def median_ns(fn: Callable[[], Any], repeat: int, warmup: int = 50) -> float:
    """Median wall time of one call of ``fn``, in nanoseconds."""
    for _ in range(warmup):
        fn()
    times = []
    clock = time.perf_counter_ns
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def otel_tracer(base_url: str) -> tuple[Any, TracerProvider]:
    """A hand-written OpenTelemetry set-up, as a user would write it: own provider, batch
    processor, OTLP/HTTP exporter, sized like aither's so neither drops."""
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=base_url + "/v1/traces"),
            max_queue_size=100_000,
            max_export_batch_size=100,
            schedule_delay_millis=1000,
        )
    )
    return provider.get_tracer("handwritten"), provider


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def quiet_env() -> None:
    for name in list(os.environ):
        if name.startswith(("AITHER_", "OTEL_")):
            del os.environ[name]
