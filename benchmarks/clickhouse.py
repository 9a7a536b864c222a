"""ClickHouse as the telemetry store: ingest spans/s stored end to end, and bytes per span.

``aither server`` runs as its own process on a free port, once with SQLite for everything,
once with SQLite for accounts and a throwaway ClickHouse server (Debian's ``clickhouse-server``
18.16, started like the tests start it) for telemetry, and with ``--db URL`` on PostgreSQL too.
A producer process sends pre-encoded OTLP protobuf requests of 500 prediction spans from 4
concurrent HTTP clients (``benchmarks.server_ingest``'s ceiling variant); a run is stored when
the server's usage counter holds every span, and the time runs from the first request to then.
Storage: the SQLite file (with its WAL), or ClickHouse's ``system.parts`` bytes on disk, over
the spans stored (every table, the label join's and the rollups included).

    python -m benchmarks.clickhouse [--n 100000] [--db postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from aither.server.telemetry.schema import TELEMETRY_TABLES

from ._common import ROOT, quiet_env, table
from .server_ingest import KEY, OTLP_CHILD, _free_port, _stored, _wait_stored

sys.path.insert(0, str(ROOT / "tests"))


def _run(n: int, home: str, database_url: str | None, telemetry_url: str | None) -> tuple[int, float]:
    """(spans stored, seconds to stored) of one server process."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AITHER_HOME": home, "AITHER_INIT_API_KEY": KEY}
    argv = [sys.executable, "-m", "aither.cli", "server", "--port", str(port), "--log-level", "warning"]
    if database_url:
        argv += ["--db", database_url]
    if telemetry_url:
        argv += ["--telemetry-db", telemetry_url]
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.get("/healthz")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.05)
            before = _stored(http)
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", OTLP_CHILD, str(n), base_url, KEY],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(result.stderr)
            done = _wait_stored(http, before + n)
            return _stored(http) - before, done - start
    finally:
        server.terminate()
        server.wait(30)


def _sqlite_bytes(home: str) -> int:
    return sum(path.stat().st_size for path in Path(home).glob("aither.db*"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="prediction spans per engine")
    parser.add_argument("--db", help="also run with this relational URL for everything (PostgreSQL)")
    args = parser.parse_args()
    quiet_env()
    import clickhouse_server
    from clickhouse_driver import Client

    rows = []
    with tempfile.TemporaryDirectory(prefix="aither-bench-") as home:
        stored, seconds = _run(args.n, home, None, None)
        rows.append(["SQLite", f"{stored:,}", f"{seconds:.2f} s", f"{stored / seconds:,.0f}",
                     f"{_sqlite_bytes(home) / stored:,.0f}"])  # fmt: skip
    if args.db:
        with tempfile.TemporaryDirectory(prefix="aither-bench-") as home:
            stored, seconds = _run(args.n, home, args.db, None)
            rows.append(["PostgreSQL", f"{stored:,}", f"{seconds:.2f} s", f"{stored / seconds:,.0f}", "-"])
    ch = clickhouse_server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="aither-bench-") as home:
            stored, seconds = _run(args.n, home, None, ch.url)
            client = Client("127.0.0.1", port=ch.port)
            for name in TELEMETRY_TABLES:  # merged parts: the size the tables settle at
                client.execute(f"OPTIMIZE TABLE aither.{name} FINAL")
            ((size,),) = client.execute(
                "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'aither' AND active"
            )
            client.disconnect()
            rows.append(["SQLite + ClickHouse 18.16 (telemetry)", f"{stored:,}", f"{seconds:.2f} s",
                         f"{stored / seconds:,.0f}", f"{size / stored:,.0f}"])  # fmt: skip
    finally:
        ch.stop()
    print(f"one aither server process, {os.cpu_count()} cores shared with the producer and the databases")
    print(table(rows, ["store", "spans stored", "time to stored", "spans/s stored", "bytes/span on disk"]))


if __name__ == "__main__":
    main()
