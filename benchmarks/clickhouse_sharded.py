"""Sharded ClickHouse against one node: ingest spans/s stored end to end, and where rows go.

``aither server`` (one process) stores its telemetry once in one throwaway ClickHouse 18.16
server, once in a cluster of two (``remote_servers`` naming both as shards, ``cluster=`` in
the URL: Distributed tables on the first over each node's local ones), with the producer of
``benchmarks.clickhouse`` (OTLP protobuf requests of 500 prediction spans, 4 clients). On one
machine the two shards share its cores, so this measures what sharding costs an insert (each
batch is split and sent to both nodes before the 200), not what a second machine adds.

    python -m benchmarks.clickhouse_sharded [--n 50000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from ._common import ROOT, quiet_env, table
from .clickhouse import _run

sys.path.insert(0, str(ROOT / "tests"))


def _local_rows_and_bytes(port: int, database: str) -> tuple[int, int]:
    """Prediction rows and bytes on disk (active parts, after merging) of one node's database."""
    from clickhouse_driver import Client

    client = Client("127.0.0.1", port=port)
    try:
        for (name,) in client.execute(
            "SELECT name FROM system.tables WHERE database = %(db)s AND engine LIKE '%%MergeTree'",
            {"db": database},
        ):
            client.execute(f"OPTIMIZE TABLE {database}.{name} FINAL")
        ((rows,),) = client.execute(f"SELECT count() FROM {database}.predictions")
        ((size,),) = client.execute(
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = %(db)s AND active", {"db": database}
        )
    finally:
        client.disconnect()
    return int(rows), int(size or 0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50_000, help="prediction spans per run")
    args = parser.parse_args()
    quiet_env()
    import clickhouse_server

    rows = []
    single = clickhouse_server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="aither-bench-") as home:
            stored, seconds = _run(args.n, home, None, single.url)
        predictions, size = _local_rows_and_bytes(single.port, "aither")
        rows.append(["1 node", f"{stored:,}", f"{seconds:.2f} s", f"{stored / seconds:,.0f}",
                     f"{predictions:,}", f"{size / stored:,.0f}"])  # fmt: skip
    finally:
        single.stop()
    servers = clickhouse_server.start_cluster("bench")
    try:
        with tempfile.TemporaryDirectory(prefix="aither-bench-") as home:
            stored, seconds = _run(args.n, home, None, f"{servers[0].url}?cluster=bench")
        placed = [_local_rows_and_bytes(server.port, "aither_local") for server in servers]
        rows.append(["2 shards (Distributed)", f"{stored:,}", f"{seconds:.2f} s", f"{stored / seconds:,.0f}",
                     " + ".join(f"{n:,}" for n, _ in placed),
                     f"{sum(size for _, size in placed) / stored:,.0f}"])  # fmt: skip
    finally:
        for server in servers:
            server.stop()
    print(f"one aither server process, {os.cpu_count()} cores shared with the producer and ClickHouse")
    print(table(rows, ["ClickHouse", "spans stored", "time to stored", "spans/s stored",
                       "predictions per node", "bytes/span on disk"]))  # fmt: skip


if __name__ == "__main__":
    main()
