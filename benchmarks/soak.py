"""Soak: steady traffic for an hour (by default) into a real OTLP/HTTP receiver that goes down
for the middle third, at aither's default settings.

Reports, every ``--interval`` seconds, the process's RSS and aither's ledger (created,
exported, dropped, failed, queued), and at the end whether the ledger balances, what the
receiver counted, and how RSS moved. The receiver is ``benchmarks.sink`` in its own process:
killed at the outage's start (connections refused), started again on the same port at its
end. Not a test: it prints figures to read.

    python -m benchmarks.soak [--duration 3600] [--rate 200] [--interval 60]
    python -m benchmarks soak --duration 60 --interval 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._common import ROOT, quiet_env, sink_count, table


def rss_mb() -> float:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class Sink:
    """``benchmarks.sink`` in a subprocess that can be stopped and started on the same port."""

    def __init__(self, directory: Path) -> None:
        self._port_file = directory / "port"
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.counted_before_outages = 0  # a restarted sink counts from zero again

    def start(self) -> None:
        self._port_file.write_text("")
        deadline = time.monotonic() + 30
        while True:
            args = [sys.executable, "-m", "benchmarks.sink", str(self._port_file)]
            proc = subprocess.Popen([*args, str(self.port)] if self.port else args, cwd=ROOT)
            while not self._port_file.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._port_file.read_text():
                break
            if time.monotonic() > deadline:  # the port just freed may take a moment to bind again
                raise RuntimeError("the benchmark sink did not start")
            time.sleep(0.2)
        self._proc = proc
        self.port = int(self._port_file.read_text())

    def stop(self) -> None:
        if self._proc is not None:
            self.counted_before_outages += self.count()
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    def count(self) -> int:
        if self._proc is None:
            return 0
        return sink_count(self.base_url)

    @property
    def received(self) -> int:
        return self.counted_before_outages + self.count()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def sink() -> Iterator[Sink]:
    with tempfile.TemporaryDirectory() as tmp:
        s = Sink(Path(tmp))
        s.start()
        try:
            yield s
        finally:
            s.stop()


def run(duration: float, rate: float, interval: float, down_from: float, down_to: float) -> dict[str, Any]:
    import aither

    quiet_env()
    rows: list[list[str]] = []
    header = ["t s", "receiver", "RSS MB", "created", "exported", "dropped", "failed", "queued", "received"]
    print("| " + " | ".join(header) + " |", flush=True)
    with sink() as receiver:
        client = aither.Client(api_key="soak", base_url=receiver.base_url)  # default settings

        def model(rows: list[dict[str, float]]) -> list[float]:
            return [r["amount"] * 0.5 + r["age"] for r in rows]

        tracked = client.wrap(model, name="soak", version="1")
        batch = [{"amount": float(i), "age": 30.0, "country": "PL"} for i in range(8)]
        start = time.monotonic()
        outage = (start + duration * down_from, start + duration * down_to)
        down = False
        next_report = start
        calls = 0
        rss_start = rss_peak = rss_mb()
        while True:
            now = time.monotonic()
            elapsed = now - start
            if not down and outage[0] <= now < outage[1]:
                receiver.stop()
                down = True
            elif down and now >= outage[1]:
                receiver.start()
                down = False
            if now >= next_report or elapsed >= duration:
                rss = rss_mb()
                rss_peak = max(rss_peak, rss)
                s = client.stats()
                row = [
                    f"{elapsed:.0f}",
                    "down" if down else "up",
                    f"{rss:.1f}",
                    *(f"{v:,}" for v in (s.created, s.exported, s.dropped, s.failed, s.queued)),
                    "-" if down else f"{receiver.received:,}",
                ]
                rows.append(row)
                print("| " + " | ".join(row) + " |", flush=True)
                next_report += interval
            if elapsed >= duration:
                break
            # Steady traffic: the calls due by now, then a short pause (the caller's own pacing).
            due = int(elapsed * rate) - calls
            for _ in range(max(due, 0)):
                tracked(batch)
                calls += 1
            time.sleep(0.01)
        flushed = client.flush(60)
        final = client.stats()
        received = receiver.received
        rss_end = rss_mb()
        client.close()
    balanced = final.created == final.exported + final.dropped + final.failed + final.queued
    summary = {
        "duration_s": duration,
        "rate_per_s": rate,
        "calls": calls,
        "outage_s": [round(duration * down_from), round(duration * down_to)],
        "flushed": flushed,
        "created": final.created,
        "exported": final.exported,
        "dropped": final.dropped,
        "failed": final.failed,
        "queued": final.queued,
        "internal_errors": final.internal_errors,
        "received": received,
        "ledger_balances": balanced,
        "rss_mb": {"start": round(rss_start, 1), "peak": round(rss_peak, 1), "end": round(rss_end, 1)},
    }
    print()
    print(
        table(
            [
                [
                    f"{calls:,}",
                    f"{final.exported:,}",
                    f"{received:,}",
                    f"{final.dropped:,}",
                    f"{final.failed:,}",
                    f"{final.queued:,}",
                    "yes" if balanced else "NO",
                    f"{rss_start:.1f} / {rss_peak:.1f} / {rss_end:.1f}",
                ]
            ],
            [
                "calls",
                "exported",
                "received",
                "dropped",
                "failed",
                "queued",
                "ledger balances",
                "RSS MB start/peak/end",
            ],
        )
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of traffic (default 3600)")
    parser.add_argument("--rate", type=float, default=200.0, help="predictions per second (default 200)")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between reports (default 60)")
    parser.add_argument("--down-from", type=float, default=1 / 3, help="outage start, fraction of the run")
    parser.add_argument("--down-to", type=float, default=2 / 3, help="outage end, fraction of the run")
    parser.add_argument("--json", type=Path, help="also write the final figures to this file")
    args = parser.parse_args()
    summary = run(args.duration, args.rate, args.interval, args.down_from, args.down_to)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
