"""Ingest at scale: spans/s stored end to end, one and two servers, and the bytes a span takes.

Each variant starts real ``aither server`` processes on free ports, on a fresh database:
SQLite (one server), PostgreSQL (one server, then two sharing it, requests round-robin as a
load balancer would). Pre-encoded OTLP protobuf requests of 200 realistic spans (predictions
with features and outputs, LLM calls with tokens and cost, labels joined to earlier
predictions; three services) go from several concurrent senders; a variant is stored when the
organisation's usage counter (written by every server) has every span, and its rate is spans
over the time from the first request to that moment. Bytes per span: the database's growth
(SQLite: the file and its WAL; PostgreSQL: ``pg_database_size``) over the spans stored.

ClickHouse: ``--telemetry-db clickhouse://...`` adds the same variants (one and two servers on
PostgreSQL) with the telemetry store there (``AITHER_TELEMETRY_DB``, the ClickHouse store's
setting); ``--telemetry-db auto`` starts a throwaway local ``clickhouse-server`` for them. Its
bytes per span are PostgreSQL's growth plus the ClickHouse database's parts on disk
(``system.parts``); the ClickHouse database is dropped between variants. The last column is
where the two cores went while the variant ran (Linux ``/proc``): CPU microseconds per span
stored of the servers, ClickHouse (when started here), PostgreSQL and the senders (this
process). ``--only`` runs some
of the stores (``sqlite``, ``postgresql``, ``clickhouse``), to compare one before and after.

    python -m benchmarks.ingest_scale [--spans 12000] [--senders 4] [--per-request 200]
        [--telemetry-db URL|auto] [--only clickhouse] [--servers 1|2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from ._common import ROOT, quiet_env, table

sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "server")]

from otlp_builder import PROTOBUF, Spans, ids, request  # noqa: E402
from server_process import ServerProcess  # noqa: E402

from aither.schema import semconv as sc  # noqa: E402

KEY = "aith_ingest_scale_benchmark_key_0001"
PER_REQUEST = 200


def bodies(total: int, per_request: int = PER_REQUEST) -> list[bytes]:
    """``total`` spans as requests of ``per_request`` (10 or more): per 10 spans, 5 predictions, 3 LLM
    calls and 2 labels of the request's predictions."""
    spans = Spans()
    out = []
    for offset in range(0, total, per_request):
        part = []
        for index in range(offset, min(offset + per_request, total), 10):
            at = spans.now_ns + index * 1_000_000
            predictions = [
                spans.prediction(
                    "churn",
                    [1, 0, 1],
                    features=[[0.1 * k, 2.0, 3.5, "gold"] for k in range(3)],
                    start_ns=at + k,
                    duration_ms=3.0 + k,
                    error="timeout" if index % 500 == 0 and k == 0 else None,
                )
                for k in range(5)
            ]
            calls = [
                spans.span(
                    "chat gpt-4o-mini",
                    {
                        sc.AITHER_SCHEMA_VERSION: sc.SCHEMA_VERSION,
                        sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LLM,
                        sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_CHAT,
                        sc.GEN_AI_PROVIDER_NAME: "openai",
                        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
                        sc.GEN_AI_USAGE_INPUT_TOKENS: 420 + k,
                        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 96,
                        sc.AITHER_COST_USD: 0.00012,
                        sc.AITHER_LLM_CLIENT_NAME: "support-bot",
                    },
                    start_ns=at + 10 + k,
                    duration_ms=640.0,
                )
                for k in range(3)
            ]
            labels = [
                spans.label(ids(p)[0], [1, 0, 1], target=ids(p)[1], model="churn") for p in predictions[:2]
            ]
            part += [*predictions, *calls, *labels]
        out.append(request(part, service=f"service-{offset // per_request % 3}").SerializeToString())
    return out


def _stored(http: httpx.Client) -> int:
    return int(http.get("/api/v1/org/usage").json()["spans"])


def send(urls: list[str], payload: list[bytes], senders: int) -> float:
    """Send ``payload`` round-robin over ``urls`` from ``senders`` threads; the start time."""
    turn = iter(range(len(payload)))
    lock = threading.Lock()
    headers = {**PROTOBUF, "Authorization": f"Bearer {KEY}"}

    def sender() -> None:
        with httpx.Client(timeout=60) as http:
            while True:
                with lock:
                    index = next(turn, None)
                if index is None:
                    return
                while True:
                    response = http.post(
                        urls[index % len(urls)] + "/v1/traces", content=payload[index], headers=headers
                    )
                    if response.status_code == 200:
                        break
                    if response.status_code != 503:  # 503: the queue is full; the exporter would retry
                        raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
                    time.sleep(0.05)

    start = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        for future in [pool.submit(sender) for _ in range(senders)]:
            future.result()
    return start


def wait_stored(url: str, expected: int, deadline_s: float = 900) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
        deadline = time.monotonic() + deadline_s
        while (stored := _stored(http)) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{stored} of {expected} spans stored in {deadline_s} s")
            time.sleep(0.05)
    return time.perf_counter()


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and of the children it has reaped, from
    Linux's ``/proc``; 0 when the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and of its live children (PostgreSQL's backends)."""
    total = _cpu_s(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                total += _cpu_s(int(entry.name))
    return total


class CpuMeter:
    """CPU seconds spent by each part of a variant between :meth:`start` and :meth:`stop`:
    the servers, ClickHouse (when its pid is known), PostgreSQL (its postmaster and backends)
    and this process (the senders). Linux only: elsewhere every part reads None."""

    def __init__(self, servers: list[int], clickhouse: int | None, postgres: int | None) -> None:
        self.parts: dict[str, list[int]] = {"servers": servers}
        if clickhouse is not None:
            self.parts["ClickHouse"] = [clickhouse]
        if postgres is not None:
            self.parts["PostgreSQL"] = [postgres]
        self._at: dict[str, float] = {}
        self.spent: dict[str, float | None] = {}

    def _read(self) -> dict[str, float]:
        read = {name: sum(_tree_cpu_s(pid) for pid in pids) for name, pids in self.parts.items()}
        return {**read, "senders": time.process_time()}

    def start(self) -> None:
        if Path("/proc/self/stat").exists():
            self._at = self._read()

    def stop(self) -> None:
        now = self._read() if self._at else {}
        self.spent = {
            name: now[name] - self._at[name] if self._at else None for name in [*self.parts, "senders"]
        }


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's main process (a backend's parent), when it runs on this machine."""
    from aither.server.storage.engine import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            backend = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() or 0)
        stat = Path(f"/proc/{backend}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
    finally:
        engine.dispose()


def clickhouse_bytes(url: str) -> int:
    """The ClickHouse database's active parts on disk, after its pending inserts have landed."""
    from aither.server.telemetry.client import open_executor

    executor = open_executor(url)
    try:
        rows = executor.execute(
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = %(db)s AND active",
            {"db": executor.database},
        )
        return int(rows[0][0] or 0) if rows else 0
    finally:
        executor.close()


def drop_clickhouse(url: str) -> None:
    """An empty ClickHouse database for the next variant (the servers migrate it again)."""
    from aither.server.telemetry.client import open_executor

    executor = open_executor(url)
    try:
        executor.execute(f"DROP DATABASE IF EXISTS {executor.database}")
    finally:
        executor.close()


def database_bytes(url: str, home: Path, telemetry: str | None = None) -> int:
    if telemetry:
        return database_bytes(url, home) + clickhouse_bytes(telemetry)
    if url.startswith("sqlite"):
        return sum(path.stat().st_size for path in home.glob("aither.db*"))
    from aither.server.storage.engine import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("CHECKPOINT")
            return int(
                connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() or 0
            )
    finally:
        engine.dispose()


@contextmanager
def postgres() -> Iterator[str]:
    from pg_cluster import postgres_cluster

    with postgres_cluster() as url:
        yield url


def variant(
    name: str,
    url: str,
    servers: int,
    payload: list[bytes],
    spans: int,
    senders: int,
    env: dict[str, str],
    clickhouse_pid: int | None = None,
) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="aither-scale-") as tmp, ExitStack() as stack:
        home = Path(tmp)
        database = url or f"sqlite:///{home / 'aither.db'}"
        server_env = {**env, "AITHER_INIT_API_KEY": KEY}
        # the first server migrates and bootstraps; the others start on the ready database
        running = [
            stack.enter_context(ServerProcess(home=home / "s0", database_url=database, env=server_env))
        ]
        running += [
            stack.enter_context(ServerProcess(home=home / f"s{i}", database_url=database, env=server_env))
            for i in range(1, servers)
        ]
        urls = [server.base_url for server in running]
        telemetry = env.get("AITHER_TELEMETRY_DB")
        before = database_bytes(database, home, telemetry)
        postgres_pid = postmaster_pid(database) if database.startswith("postgresql") else None
        pids = [server.process.pid for server in running if server.process is not None]
        cpu = CpuMeter(pids, clickhouse_pid if telemetry else None, postgres_pid)
        cpu.start()
        start = send(urls, payload, senders)
        done = wait_stored(urls[0], spans)
        cpu.stop()
        grown = database_bytes(database, home, telemetry) - before
    elapsed = done - start
    return [
        name,
        str(servers),
        f"{spans:,}",
        f"{elapsed:.2f} s",
        f"{spans / elapsed:,.0f}",
        f"{grown / spans:,.0f}",
        " / ".join(
            "-" if cpu.spent.get(part) is None else f"{1e6 * (cpu.spent[part] or 0.0) / spans:,.0f}"
            for part in ("servers", "ClickHouse", "PostgreSQL", "senders")
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=12_000, help="spans per variant")
    parser.add_argument("--senders", type=int, default=4, help="concurrent HTTP senders")
    parser.add_argument(
        "--per-request",
        type=int,
        default=PER_REQUEST,
        help="spans per request (a multiple of 10; a collector's batch is thousands)",
    )
    parser.add_argument(
        "--telemetry-db",
        help="a ClickHouse URL, or auto (a throwaway local clickhouse-server): add the variants "
        "with telemetry there",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=("sqlite", "postgresql", "clickhouse"),
        help="run only these stores (repeatable; default: all those configured)",
    )
    parser.add_argument(
        "--servers",
        type=int,
        action="append",
        choices=(1, 2),
        help="run only the variants with this many servers (repeatable; default: 1 and 2)",
    )
    args = parser.parse_args()
    quiet_env()
    only = set(args.only or ("sqlite", "postgresql", "clickhouse"))
    counts = tuple(sorted(set(args.servers or (1, 2))))
    spans = args.spans - args.spans % 10
    payload = bodies(spans, max(10, args.per_request - args.per_request % 10))
    rows = []
    with ExitStack() as stack:
        if "sqlite" in only:
            rows.append(variant("SQLite", "", 1, payload, spans, args.senders, {}))
        telemetry = args.telemetry_db if "clickhouse" in only else None
        clickhouse_pid = None
        if telemetry == "auto":
            from clickhouse_server import start

            server = start()
            stack.callback(server.stop)
            telemetry = server.url
            clickhouse_pid = server.process.pid
        if "postgresql" in only or telemetry:
            url = stack.enter_context(postgres())
        for servers in counts if "postgresql" in only else ():
            rows.append(variant("PostgreSQL", url, servers, payload, spans, args.senders, {}))
            _reset(url)
        for servers in counts if telemetry else ():
            env = {"AITHER_TELEMETRY_DB": telemetry}
            rows.append(
                variant(
                    "PostgreSQL + ClickHouse", url, servers, payload, spans, args.senders, env, clickhouse_pid
                )
            )
            _reset(url)
            drop_clickhouse(telemetry)
    print(
        f"{os.cpu_count()} cores shared by the servers, PostgreSQL and {args.senders} senders; "
        f"{args.per_request} spans per request; load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        table(
            rows,
            [
                "store",
                "servers",
                "spans",
                "time to stored",
                "spans/s stored",
                "bytes/span",
                "CPU µs/span: servers / ClickHouse / PostgreSQL / senders",
            ],
        )
    )


def _reset(url: str) -> None:
    """An empty database for the next variant (the schema stays)."""
    from aither.server.storage.engine import create_engine
    from aither.server.storage.schema import metadata

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for table_ in reversed(metadata.sorted_tables):
                connection.execute(table_.delete())
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM FULL")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
