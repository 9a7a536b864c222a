"""What an event loop feels of ``@aither.track``: the lag of a 10 ms heartbeat.

1,000 tasks each call an async function (it awaits once, as an I/O-bound call does) then
sleep ``--period`` seconds (staggered), while a heartbeat task sleeps 10 ms at a time and
records how late it wakes: the loop is busy, not saturated, as a service's is. Variants, one
after the other in one process and interleaved over rounds: the plain function; the function
under ``@client.track`` exporting to a real receiver in another process (``benchmarks.sink``);
and the same with export held off (a receiver that never answers, so spans stay queued and
the export thread is idle), which isolates the work done on the loop itself.

    python -m benchmarks.event_loop [--seconds 2] [--rounds 3] [--tasks 1000] [--period 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import quiet_env, sink, table
from .gc_queue import silent_receiver

HEARTBEAT_S = 0.010


async def _load(
    fn: Callable[[int, str], Awaitable[Any]], seconds: float, tasks: int, period: float
) -> tuple[list[float], int]:
    stop = time.monotonic() + seconds
    lags: list[float] = []
    calls = 0

    async def heartbeat() -> None:
        while time.monotonic() < stop:
            start = time.monotonic()
            await asyncio.sleep(HEARTBEAT_S)
            lags.append(time.monotonic() - start - HEARTBEAT_S)

    async def worker(i: int) -> None:
        nonlocal calls
        await asyncio.sleep(period * i / tasks)
        while time.monotonic() < stop:
            await fn(i, "user-question")
            calls += 1
            await asyncio.sleep(period)

    await asyncio.gather(heartbeat(), *(worker(i) for i in range(tasks)))
    return lags, calls


async def plain(n: int, query: str) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"n": n, "answer": query.upper()}


def run(seconds: float, rounds: int, tasks: int, period: float) -> str:
    import aither

    quiet_env()
    results: dict[str, list[float]] = {"plain": [], "aither, exporting": [], "aither, export held": []}
    calls: dict[str, int] = dict.fromkeys(results, 0)
    with sink() as url, silent_receiver() as silent:
        live = aither.Client(api_key="bench", base_url=url)
        held = aither.Client(api_key="bench", base_url=silent, export_timeout=600, max_queue_size=10_000_000)
        variants = {
            "plain": plain,
            "aither, exporting": live.track("answer")(plain),
            "aither, export held": held.track("answer")(plain),
        }
        asyncio.run(_load(plain, 0.3, tasks, period))  # warm up
        for r in range(rounds):
            names = list(variants) if r % 2 == 0 else list(reversed(variants))
            for name in names:
                lags, n = asyncio.run(_load(variants[name], seconds, tasks, period))
                results[name] += lags
                calls[name] += n
                if name == "aither, exporting":
                    live.flush(60)
        live.close()
        stats = held.stats()
    rows = []
    base = results["plain"]
    for name, lags in results.items():
        ordered = sorted(lags)
        p99 = ordered[int(0.99 * len(ordered))] * 1000
        rows.append(
            [
                name,
                f"{statistics.median(lags) * 1000:.2f}",
                f"{p99:.2f}",
                f"{(p99 - sorted(base)[int(0.99 * len(base))] * 1000):+.2f}" if name != "plain" else "",
                f"{max(lags) * 1000:.1f}",
                f"{calls[name]:,}",
            ]
        )
    text = table(rows, ["variant", "lag p50 ms", "lag p99 ms", "p99 vs plain ms", "lag max ms", "calls"])
    text += (
        f"\n\n{tasks:,} tasks calling every {period:g} s, a {HEARTBEAT_S * 1000:.0f} ms heartbeat, "
        f"{rounds} interleaved rounds of {seconds:g} s; export held: {stats.queued:,} spans left queued"
    )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--period", type=float, default=0.5, help="seconds between a task's calls")
    args = parser.parse_args()
    print(run(args.seconds, args.rounds, args.tasks, args.period))
    sys.stdout.flush()
    import os

    os._exit(0)  # the held client's export never returns: leave without waiting for it


if __name__ == "__main__":
    main()
