"""Sharded ClickHouse: two real 18.16 servers, each a shard of one ``remote_servers`` cluster.

The engine test (``test_telemetry_engines.py``, engine ``clickhouse-sharded``) sends the whole
stream through the cluster and compares every answer with SQLite's; here, what is particular to
shards: rows of known traces land on the shard their hash names, each node's migrations are
recorded, a shard that is down answers 503 (never 500), and settings that cannot work say why.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from otlp_builder import PROTOBUF, Spans, body

from aither.exceptions import ConfigError
from aither.server import ServerSettings, Storage
from aither.server.bootstrap import bootstrap
from aither.server.storage import DatabaseURLError
from aither.server.telemetry.schema import MIGRATIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import clickhouse_server  # noqa: E402
from test_telemetry_engines import api_client  # noqa: E402

KEY = "aith_sharded_test_admin_key_0000001"
TRACES = [f"{i:032x}" for i in range(1, 9)]
"""Fixed trace ids, so which shard each lands on is fixed too (cityHash64 mod 2: 3 and 5)."""


@pytest.fixture
def cluster() -> Iterator[list[clickhouse_server.ClickHouseServer]]:
    pytest.importorskip("clickhouse_driver")
    if clickhouse_server.binary() is None:
        pytest.skip("clickhouse-server is not installed (apt-get install clickhouse-server)")
    servers = clickhouse_server.start_cluster("pair")
    yield servers
    for server in servers:
        server.stop()


def _settings(tmp_path: Path, telemetry_url: str) -> ServerSettings:
    return ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        telemetry_url=telemetry_url,
        init_api_key=KEY,
        announce=False,
        write_credentials=False,
    )


def _local_counts(
    server: clickhouse_server.ClickHouseServer, table: str, trace: str = "trace_id"
) -> dict[str, int]:
    """Rows per trace in a server's own (local) table."""
    from clickhouse_driver import Client

    client = Client("127.0.0.1", port=server.port)
    try:
        rows = client.execute(f"SELECT {trace}, count() FROM aither_local.{table} GROUP BY {trace}")
    finally:
        client.disconnect()
    return {trace_id: int(count) for trace_id, count in rows}


async def test_rows_land_on_their_traces_shard_and_read_back_whole(
    cluster: list[clickhouse_server.ClickHouseServer], tmp_path: Path
) -> None:
    first, second = cluster
    settings = _settings(tmp_path, f"{first.url}?cluster=pair")
    storage = Storage.open(settings.database_url, telemetry_url=settings.telemetry_url)
    bootstrap(storage, settings)
    spans = Spans()
    spans.now_ns = 1_790_000_000_000_000_000
    exports = [
        body(
            spans.prediction("m", [i % 2], trace_id=trace, start_ns=spans.now_ns + i),
            spans.label(trace, i % 2, start_ns=spans.now_ns + 1_000_000_000 + i),
        )
        for i, trace in enumerate(TRACES)
    ]
    try:
        async with api_client(storage, settings, KEY) as http:
            for payload in [*exports, exports[0]]:  # the replay is stored once, on its shard
                assert (await http.post("/v1/traces", content=payload, headers=PROTOBUF)).status_code == 200
            listed = (await http.get("/api/v1/predictions", params={"limit": 100})).json()["items"]
            assert sorted(item["trace_id"] for item in listed) == TRACES
            assert all(item["labelled_rows"] == 1 for item in listed)  # each label joined on its shard
            (metrics,) = (await http.get("/api/v1/models/m/metrics")).json()["versions"]
            assert (metrics["predictions"], metrics["labelled_rows"]) == (8, 8)
            assert metrics["classification"]["accuracy"] == 1.0

        on_first, on_second = _local_counts(first, "predictions"), _local_counts(second, "predictions")
        assert set(on_first) | set(on_second) == set(TRACES)
        assert not set(on_first) & set(on_second)
        assert (len(on_first), len(on_second)) == (3, 5)  # fixed by the fixed trace ids
        assert set(on_first.values()) == set(on_second.values()) == {1}
        # the labels and labelled rows follow their trace, and the prediction's
        for server, traces in ((first, on_first), (second, on_second)):
            assert set(_local_counts(server, "labels")) == set(traces)
            assert set(_local_counts(server, "label_rows", "pred_trace_id")) == set(traces)

        telemetry = storage.telemetry
        assert telemetry is not None
        # each node records its own migrations; the entry its Distributed tables'
        nodes = telemetry.shards.nodes  # type: ignore[attr-defined]
        assert [node.address_tuple[1] for node in nodes] == [first.port, second.port]
        for node in nodes:
            assert node.execute("SELECT count() FROM aither_local.schema_migrations")[0][0] == len(MIGRATIONS)
        tables = telemetry.x.execute("SELECT name, engine FROM system.tables WHERE database = 'aither'")
        engines = dict(tables)
        assert engines["predictions"] == "Distributed" and engines["schema_migrations"] == "MergeTree"

        # retention drops the old day on both shards
        deleted = telemetry.prune(spans.now_ns + 2 * 86_400 * 10**9)
        assert deleted["predictions"] == 8 and deleted["labels"] == 8
        assert _local_counts(first, "predictions") == _local_counts(second, "predictions") == {}
    finally:
        storage.close()


async def test_a_shard_that_is_down_makes_ingest_and_reads_answer_503(
    cluster: list[clickhouse_server.ClickHouseServer], tmp_path: Path
) -> None:
    first, second = cluster
    settings = _settings(tmp_path, f"{first.url}?cluster=pair")
    storage = Storage.open(settings.database_url, telemetry_url=settings.telemetry_url)
    bootstrap(storage, settings)
    spans = Spans()
    # TRACES[0] hashes to the second shard
    export = body(spans.prediction("m", [1], trace_id=TRACES[0]))
    try:
        async with api_client(storage, settings, KEY) as http:
            second.stop()
            response = await http.post("/v1/traces", content=export, headers=PROTOBUF)
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"]
            response = await http.get("/api/v1/predictions")
            assert response.status_code == 503, response.text
    finally:
        storage.close()
    assert _local_counts(first, "predictions") == {}  # nothing half-stored on the live shard


def test_an_upgrade_backfills_each_shard_and_distributes_the_new_table(
    cluster: list[clickhouse_server.ClickHouseServer],
) -> None:
    """A cluster at migration 1 holds predictions on both shards; migration 2 (predictions by
    trace) fills each shard's table from its own predictions, and the entry reads it through
    its new Distributed table."""
    from aither.server.telemetry.clickhouse import ClickHouseStore

    url = f"{cluster[0].url.replace('/aither', '/upgrade')}?cluster=pair"
    columns = (
        "org_id",
        "trace_id",
        "span_id",
        "id",
        "model_name",
        "task",
        "time_ns",
        "latency_ms",
        "is_error",
    )
    old = ClickHouseStore.open(url, up_to=1)
    try:
        assert old.migrations() == [1]
        tables = {row[0] for row in old.x.execute("SHOW TABLES FROM upgrade")}
        assert "predictions" in tables and "prediction_traces" not in tables
        old.x.insert(
            "upgrade.predictions",
            columns,
            [
                ("org", trace, f"{i:016x}", i, "m", "classification", i, 1.0, 0)
                for i, trace in enumerate(TRACES)
            ],
        )
    finally:
        old.close()
    new = ClickHouseStore.open(url)
    try:
        assert new.migrations() == [version for version, _, _ in MIGRATIONS]
        assert new.shards is not None
        for node in new.shards.nodes:  # each shard's copy holds its own predictions' traces
            assert node.execute("SELECT version FROM upgrade_local.schema_migrations ORDER BY version") == [
                (version,) for version, _, _ in MIGRATIONS
            ]
            copied = node.execute("SELECT trace_id FROM upgrade_local.prediction_traces ORDER BY trace_id")
            assert copied == node.execute("SELECT trace_id FROM upgrade_local.predictions ORDER BY trace_id")
            assert copied  # both shards hold some
        found = new.x.execute(  # (18.16: FINAL + ORDER BY over Distributed needs org_id named)
            "SELECT trace_id FROM upgrade.prediction_traces FINAL WHERE org_id = 'org' ORDER BY trace_id"
        )
        assert [row[0] for row in found] == TRACES
    finally:
        new.close()


def test_a_cluster_the_entry_does_not_know_is_refused_with_its_name(
    cluster: list[clickhouse_server.ClickHouseServer], tmp_path: Path
) -> None:
    with pytest.raises(DatabaseURLError, match="no cluster 'nope'"):
        Storage.open(f"sqlite:///{tmp_path / 'a.db'}", telemetry_url=f"{cluster[0].url}?cluster=nope")


def test_a_database_of_one_server_is_not_silently_read_as_the_clusters(
    cluster: list[clickhouse_server.ClickHouseServer], tmp_path: Path
) -> None:
    Storage.open(f"sqlite:///{tmp_path / 'a.db'}", telemetry_url=cluster[0].url).close()
    with pytest.raises(DatabaseURLError, match="holds tables of a single server"):
        Storage.open(f"sqlite:///{tmp_path / 'a.db'}", telemetry_url=f"{cluster[0].url}?cluster=pair")


def test_chdb_cannot_be_a_cluster(tmp_path: Path) -> None:
    pytest.importorskip("chdb")
    with pytest.raises(DatabaseURLError, match="cannot be a cluster"):
        Storage.open(f"sqlite:///{tmp_path / 'a.db'}", telemetry_url=f"chdb://{tmp_path}/ch?cluster=two")


def test_the_cluster_variable_adds_itself_to_the_telemetry_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AITHER_CLICKHOUSE_CLUSTER", "pair")
    url = "clickhouse://default@ch:9000/aither"
    settings = ServerSettings.from_env(home=tmp_path, telemetry_url=url)
    assert settings.telemetry_url == f"{url}?cluster=pair"
    same = ServerSettings.from_env(home=tmp_path, telemetry_url=f"{url}?cluster=pair")
    assert same.telemetry_url == f"{url}?cluster=pair"
    with pytest.raises(ConfigError, match="names cluster 'other'"):
        ServerSettings.from_env(home=tmp_path, telemetry_url=f"{url}?cluster=other")
    with pytest.raises(ConfigError, match="needs a telemetry database"):
        ServerSettings.from_env(home=tmp_path)
