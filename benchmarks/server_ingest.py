"""Ingest throughput of ``aither server``: spans per second stored, end to end.

The server runs as its own process (``aither server`` on a free port, SQLite in a temporary
directory); producers run in other processes, so the two share this machine's cores as an
application and its server would. A variant is stored when the server's usage counter has
every span it was sent; the time is from the first call to that moment.

- SDK: a wrapped one-row model called N times (``aither.wrap``), at default settings and with
  bigger export batches; then the same with a label for every second prediction (the join);
- OTLP: pre-encoded protobuf requests of 500 spans from 4 concurrent HTTP clients, the
  server's ceiling without any SDK cost.

    python -m benchmarks.server_ingest [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx

from ._common import ROOT, quiet_env, table

KEY = "aith_ingest_benchmark_key_000000"

SDK_CHILD = r"""
import json, sys, time
import numpy as np
import aither

n, base_url, batch_size, label_every = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
class Model:
    def predict(self, X):
        return (X[:, 0] > 0.5).astype(int)
options = {"batch_size": batch_size} if batch_size else {}
client = aither.Client(api_key=sys.argv[5], base_url=base_url, **options)
tracked = client.wrap(Model(), name=sys.argv[6], version="1")
row = np.array([[0.7, 0.1, 0.3]])
start = time.perf_counter()
for index in range(n):
    tracked.predict(row)
    if label_every and index % label_every == 0:
        client.log_label(tracked.last_trace_id, 1)
produced = time.perf_counter() - start
flushed = client.flush(300)
s = client.stats()
client.close()
print(json.dumps({"produced_s": produced, "flushed": flushed, "exported": s.exported, "dropped": s.dropped,
                  "failed": s.failed}))
"""

OTLP_CHILD = r"""
import os, sys, threading, json, time
import httpx
sys.path.insert(0, os.getcwd())
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

n, base_url, key, per_request, workers = int(sys.argv[1]), sys.argv[2], sys.argv[3], 500, 4
def attr(k, v):
    return KeyValue(key=k, value=AnyValue(string_value=v) if isinstance(v, str) else AnyValue(int_value=v))
bodies = []
for offset in range(0, n, per_request):
    message = ExportTraceServiceRequest()
    spans = message.resource_spans.add().scope_spans.add().spans
    for _ in range(min(per_request, n - offset)):
        span = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="predict raw", kind=1,
                         start_time_unix_nano=time.time_ns(), end_time_unix_nano=time.time_ns() + 10**6)
        span.attributes.extend([attr("aither.span.kind", "prediction"), attr("ml.model.name", "raw_otlp"),
                                attr("ml.prediction", '{"sample": [1], "_meta": {"rows": 1}}'),
                                attr("ml.output.rows", 1)])
    bodies.append(message.SerializeToString())
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
failures = []
def send(part):
    with httpx.Client(timeout=60) as http:
        for body in part:
            while True:
                response = http.post(base_url + "/v1/traces", content=body, headers=headers)
                if response.status_code != 503:
                    break
                time.sleep(0.05)
            if response.status_code != 200:
                failures.append(response.status_code)
threads = [threading.Thread(target=send, args=(bodies[i::workers],)) for i in range(workers)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"produced_s": time.perf_counter() - start, "failures": failures}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stored(http: httpx.Client) -> int:
    return int(http.get("/api/v1/org/usage").json()["spans"])


def _wait_stored(http: httpx.Client, expected: int, deadline_s: float = 600) -> float:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if _stored(http) >= expected:
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError(f"the server stored {_stored(http)} of {expected} spans in {deadline_s} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="predictions per variant")
    args = parser.parse_args()
    quiet_env()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="aither-ingest-") as home:
        env = {**os.environ, "AITHER_HOME": home, "AITHER_INIT_API_KEY": KEY}
        server = subprocess.Popen(
            [sys.executable, "-m", "aither.cli", "server", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
            ) as http:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        http.get("/healthz")
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline or server.poll() is not None:
                            raise RuntimeError("the server did not start") from None
                        time.sleep(0.05)
                variants = [
                    ("SDK wrap, default settings", [SDK_CHILD, "0", "0"], args.n),
                    ("SDK wrap, batch_size=512", [SDK_CHILD, "512", "0"], args.n),
                    ("SDK wrap + a label every 2nd call", [SDK_CHILD, "512", "2"], args.n + args.n // 2),
                    ("OTLP protobuf, 500 spans/request, 4 clients", [OTLP_CHILD], args.n),
                ]
                for index, (name, child, spans) in enumerate(variants):
                    before = _stored(http)
                    code, *extra = child
                    argv = [sys.executable, "-c", code, str(args.n), base_url]
                    argv += [*extra, KEY, f"bench{index}"] if code is SDK_CHILD else [KEY]
                    start = time.perf_counter()
                    result = subprocess.run(
                        argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False
                    )
                    if result.returncode != 0:
                        raise RuntimeError(result.stderr)
                    report = json.loads(result.stdout.strip().splitlines()[-1])
                    done = _wait_stored(http, before + spans)
                    elapsed = done - start
                    stored = _stored(http) - before
                    lost = (
                        report.get("dropped", 0) + report.get("failed", 0) + len(report.get("failures", []))
                    )
                    rows.append(
                        [
                            name,
                            f"{spans:,}",
                            f"{stored:,}",
                            str(lost),
                            f"{elapsed:.2f} s",
                            f"{stored / elapsed:,.0f}",
                        ]
                    )
        finally:
            server.terminate()
            server.wait(30)
    print(f"aither server on 127.0.0.1, SQLite, {os.cpu_count()} cores shared with the producers")
    print(
        table(rows, ["variant", "spans sent", "stored", "dropped/failed", "time to stored", "spans/s stored"])
    )


if __name__ == "__main__":
    main()
