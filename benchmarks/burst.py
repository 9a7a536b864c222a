"""A burst of 50,000 predictions into a real OTLP/HTTP receiver, at aither's default settings.

Reports delivered (counted by the receiver), dropped and failed (aither's ledger), the
caller's throughput, the time to drain, and the peak memory the burst added. Each variant
runs in a fresh process so peak memory is its own.

    python -m benchmarks.burst [--n 50000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from ._common import ROOT, quiet_env, sink, sink_count, table

CHILD = r"""
import json, resource, sys, time
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
import aither

n, base_url, workload = int(sys.argv[1]), sys.argv[2], sys.argv[3]
X, y = load_breast_cancer(return_X_y=True)
model = LogisticRegression(max_iter=5000).fit(X, y)
class Trivial:
    def predict(self, X):
        return X[:, 0]
target = Trivial() if workload == "trivial" else model
row = X[:1]
client = aither.Client(api_key="bench", base_url=base_url)  # default settings
tracked = client.wrap(target, name="burst")
tracked.predict(row)
client.flush(30)
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
for _ in range(n):
    tracked.predict(row)
produced = time.perf_counter() - start
delivered_all = client.flush(120)
drained = time.perf_counter() - start
peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
s = client.stats()
print(json.dumps({
    "produced_s": produced, "drained_s": drained, "flushed": delivered_all, "created": s.created - 1,
    "exported": s.exported - 1, "dropped": s.dropped, "failed": s.failed,
    "peak_added_mb": (peak_rss - base_rss) / 1024,
}))
"""


def run(n: int) -> str:
    quiet_env()
    rows = []
    for workload in ("trivial", "sklearn"):
        with sink() as base_url:
            before = sink_count(base_url)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(n), base_url, workload],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            received = sink_count(base_url) - before - 1
        rows.append(
            [
                f"{workload} model, 1 row",
                f"{n:,}",
                f"{received:,}",
                str(r["dropped"]),
                str(r["failed"]),
                f"{n / r['produced_s']:,.0f}",
                f"{r['drained_s']:.1f}",
                f"{r['peak_added_mb']:.0f}",
            ]
        )
    return table(
        rows,
        [
            "burst of",
            "predictions",
            "delivered",
            "dropped",
            "failed",
            "caller calls/s",
            "all delivered after s",
            "peak memory added MB",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50_000)
    args = parser.parse_args()
    print(run(args.n))


if __name__ == "__main__":
    main()
