"""The same stream, the same answers, on every engine: SQLite, PostgreSQL, ClickHouse 18.16
(a real ``clickhouse-server`` started here) and chDB (ClickHouse 26.x in-process).

One stream of OTLP exports (bytes built once, so ids and times match) goes to the real app on
each engine; the label join (labels before predictions, replays once, placement by model),
metrics, stats, the predictions list and LLM totals must equal SQLite's answers. Each engine
is a real database process (or chDB's engine in this one); a missing one is skipped, saying why.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from otlp_builder import PROTOBUF, Spans, body, ids, new_trace_id

from aither.schema import semconv as sc
from aither.server import ServerSettings, Storage, create_app
from aither.server.bootstrap import bootstrap
from aither.server.detection import shared
from aither.server.storage.schema import organizations

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import clickhouse_server  # noqa: E402
from test_server_postgres import postgres_url  # noqa: E402, F401 - the module's PostgreSQL fixture

KEY = "aith_engines_test_admin_key_0000001"


def _stream() -> list[bytes]:
    """Exports in order: a replayed one, labels before their predictions, two models, LLM calls."""
    spans = Spans()
    spans.now_ns = 1_790_000_000_000_000_000  # fixed, so every engine gets the same bytes
    t0 = spans.now_ns
    fraud = spans.prediction("fraud", [1, 0, 1, 1], duration_ms=4, start_ns=t0)
    trace, span = ids(fraud)
    early_trace = new_trace_id()
    early_label = spans.label(early_trace, 0, model="fraud", start_ns=t0 + 5_000_000_000)
    first = body(
        fraud, spans.label(trace, [1, 0, 0, 1], target=span, start_ns=t0 + 2_000_000_000), early_label
    )
    late = spans.prediction("fraud", [0], trace_id=early_trace, duration_ms=2, start_ns=t0 + 3_000_000_000)
    shared = new_trace_id()
    price = spans.prediction(
        "price", [10.0, 20.0], trace_id=shared, version="2", duration_ms=7, start_ns=t0 + 100
    )
    other = spans.prediction("fraud", [1], trace_id=shared, duration_ms=1, start_ns=t0 + 1)
    price_label = spans.label(shared, [12.0, 17.0], model="price", start_ns=t0 + 9_000_000_000)
    calls = [
        spans.span(
            "chat gpt",
            {
                sc.GEN_AI_REQUEST_MODEL: model,
                sc.GEN_AI_RESPONSE_MODEL: model,
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 10 * (i + 1),
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                sc.ENDUSER_ID: user,
            },
            start_ns=t0 + i * 1_000_000,
            duration_ms=100 + i,
        )
        for i, (model, user) in enumerate([("gpt-4o", "ann"), ("gpt-4o", "bob"), ("gpt-4o-mini", "ann")])
    ]
    failed = spans.span("chat gpt", {sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}, start_ns=t0 + 9, error="timeout")
    # a row labelled again: the newer label wins, an older one loses, on every engine
    newer = spans.label(trace, [1], target=span, row_indices=[2], start_ns=t0 + 20_000_000_000)
    older = spans.label(trace, [0], target=span, row_indices=[0], start_ns=t0 + 1_000_000_000)
    # a label placed as its trace's only prediction moves (ambiguous) when a second one arrives
    lone_trace = new_trace_id()
    lone = spans.prediction("solo", [1], trace_id=lone_trace, start_ns=t0 + 200)
    lone_label = spans.label(lone_trace, 1, start_ns=t0 + 4_000_000_000)
    second = spans.prediction("duo", [0], trace_id=lone_trace, start_ns=t0 + 300)
    return [
        first,
        first,
        body(late),
        body(price, other, price_label),
        body(*calls, failed),
        body(*calls),
        body(newer, older),
        body(lone, lone_label),
        body(second),
    ]


STREAM = _stream()
WINDOW = {"since": "2026-09-20T00:00:00Z", "until": "2026-09-23T00:00:00Z"}


NOW_NS = 1_790_000_010_000_000_000
"""Event time 10 s after the stream's start, its calls all within the window rules' last
seconds: when the window rules run."""
ANOMALY = ("rule", "kind", "service", "model", "version", "environment", "severity", "status", "count")


def _window_rules(storage: Storage) -> list[Any]:
    """One tick of the window rules at :data:`NOW_NS`, on the writer (as its own ticks run),
    reading the latest calls from the store as the lease holder of several servers does; returns
    what that read found (per target, the calls), which must be the same on every engine."""

    def tick(connection: sa.Connection) -> list[Any]:
        (org_id,) = connection.execute(sa.select(organizations.c.id)).scalars()
        storage.detection.evaluate(connection, org_id, NOW_NS)
        recent = shared.recent_calls(connection, org_id, NOW_NS, storage.detection.telemetry)
        held = recent.held().items()
        return sorted((key, [dataclasses.astuple(call) for call in calls]) for key, calls in held)

    return storage.writer.run(tick)


async def _answers(storage: Storage, settings: ServerSettings) -> dict[str, Any]:
    # as with several servers: the clocks and latest calls come from the store (on ClickHouse,
    # from ClickHouse), never from this server's memory
    storage.detection.shared = True
    app = create_app(settings, storage)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://engines.test",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:
        for payload in STREAM:
            response = await http.post("/v1/traces", content=payload, headers=PROTOBUF)
            assert response.status_code == 200, response.content
        recent = _window_rules(storage)

        async def get(path: str, **params: Any) -> Any:
            response = await http.get(path, params=params)
            assert response.status_code == 200, (path, response.text)
            return response.json()

        page = await get("/api/v1/predictions", limit=2)
        rest = await get("/api/v1/predictions", limit=10, cursor=page["next_cursor"])
        labels = await get("/api/v1/labels", limit=3)
        more_labels = await get("/api/v1/labels", limit=50, cursor=labels["next_cursor"])
        traces = {}
        for item in page["items"] + rest["items"]:
            traces[item["trace_id"]] = await get(f"/api/v1/traces/{item['trace_id']}")
        for call in (await get("/api/v1/llm-calls"))["items"][:1]:
            traces[call["trace_id"]] = await get(f"/api/v1/traces/{call['trace_id']}")
        first_call = await get("/api/v1/llm-calls", limit=1, provider="openai")
        next_calls = await get(
            "/api/v1/llm-calls", limit=10, provider="openai", cursor=first_call["next_cursor"]
        )
        return {
            "traces": traces,
            "models": await get("/api/v1/models"),
            "models_in_window": await get("/api/v1/models", **WINDOW),
            "labels": labels["items"] + more_labels["items"],
            "ambiguous": await get("/api/v1/labels", status="ambiguous"),
            "fraud_labels": await get("/api/v1/labels", model="fraud"),
            "solo": await get("/api/v1/models/solo/metrics"),
            "fraud": await get("/api/v1/models/fraud/metrics"),
            "fraud_test_env": await get("/api/v1/models/fraud/metrics", environment="test", **WINDOW),
            "price": await get("/api/v1/models/price/metrics", version="2"),
            "predictions": page["items"] + rest["items"],
            "labelled": await get("/api/v1/predictions", labelled="true"),
            "unlabelled": await get("/api/v1/predictions", labelled="false", model="fraud"),
            "llm_calls": await get("/api/v1/llm-calls"),
            "errors": await get("/api/v1/llm-calls", error="true"),
            "llm_pages": first_call["items"] + next_calls["items"],
            "ann_mini": await get("/api/v1/llm-calls", user_id="ann", model="gpt-4o-mini", error="false"),
            "unflagged": await get("/api/v1/llm-calls", pii="false", injection="false", **WINDOW),
            "risky": await get("/api/v1/llm-calls", risk="medium"),
            "price_v2": await get("/api/v1/predictions", model="price", version="2", error="false"),
            "by_user": await get("/api/v1/llm-calls/totals", group_by="user"),
            "by_model": await get("/api/v1/llm-calls/totals", group_by="model", **WINDOW),
            "stats": await get("/api/v1/stats", **WINDOW),
            "recent": recent,
            "anomalies": sorted(
                tuple(anomaly[name] for name in ANOMALY) for anomaly in await get("/api/v1/anomalies")
            ),
        }


def _settings(tmp_path: Path, database_url: str, telemetry_url: str | None = None) -> ServerSettings:
    return ServerSettings(
        home=tmp_path,
        database_url=database_url,
        telemetry_url=telemetry_url,
        init_api_key=KEY,
        announce=False,
        write_credentials=False,
    )


@pytest.fixture(scope="module")
def clickhouse_url() -> Iterator[str]:
    pytest.importorskip("clickhouse_driver")
    if clickhouse_server.binary() is None:
        pytest.skip("clickhouse-server is not installed (apt-get install clickhouse-server)")
    server = clickhouse_server.start()
    yield server.url
    server.stop()


def _open_engine(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> Iterator[tuple[Storage, ServerSettings]]:
    sqlite = f"sqlite:///{tmp_path / 'aither.db'}"
    if kind == "sqlite":
        settings = _settings(tmp_path, sqlite)
    elif kind == "postgresql":
        settings = _settings(tmp_path, request.getfixturevalue("postgres_url"))
    elif kind == "clickhouse":
        # a database per test, so each starts empty on the one module-wide server
        url = request.getfixturevalue("clickhouse_url").replace("/aither", f"/t{abs(hash(tmp_path)) % 10**9}")
        settings = _settings(tmp_path, sqlite, url)
    else:
        pytest.importorskip("chdb", reason="chdb (ClickHouse 26.x in-process) is not installed")
        settings = _settings(tmp_path, sqlite, f"chdb://{tmp_path / 'chdb'}")
    storage = Storage.open(settings.database_url, telemetry_url=settings.telemetry_url)
    bootstrap(storage, settings)
    yield storage, settings
    storage.close()
    if kind == "postgresql":
        from aither.server.storage.engine import create_engine
        from aither.server.storage.schema import metadata

        cleanup = create_engine(settings.database_url)
        with cleanup.begin() as connection:  # leave an empty database for the next test
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
        cleanup.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "clickhouse", "chdb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, ServerSettings]]:
    yield from _open_engine(request, tmp_path, request.param)


@pytest.fixture(params=["clickhouse", "chdb"])
def telemetry_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Storage, ServerSettings]]:
    yield from _open_engine(request, tmp_path, request.param)


_baseline: dict[str, Any] = {}


async def _sqlite_answers(tmp_path: Path) -> dict[str, Any]:
    if not _baseline:
        settings = _settings(tmp_path, f"sqlite:///{tmp_path / 'baseline.db'}")
        storage = Storage.open(settings.database_url)
        bootstrap(storage, settings)
        try:
            _baseline.update(await _answers(storage, settings))
        finally:
            storage.close()
    return _baseline


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits: engines sum floats in different orders."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


@pytest.mark.slow
async def test_every_engine_gives_sqlites_answers(
    engine: tuple[Storage, ServerSettings], tmp_path: Path
) -> None:
    storage, settings = engine
    answers = await _answers(storage, settings)
    expected = await _sqlite_answers(tmp_path / "baseline")

    # the answers themselves, so that a bug shared by every engine fails too
    (fraud,) = answers["fraud"]["versions"]
    assert (fraud["predictions"], fraud["rows"], fraud["labelled_rows"]) == (3, 6, 5)
    assert fraud["classification"]["accuracy"] == 1.0  # row 2 relabelled 1, row 0's older 0 lost
    assert answers["fraud"]["labels"]["joined"] == 1  # the early label found its late prediction
    assert answers["fraud"]["unattributed_labels"]["joined"] == 3  # placed by span id
    (price,) = answers["price"]["versions"]
    assert price["regression"]["mae"] == pytest.approx(2.5)
    assert [row["model_name"] for row in answers["labelled"]["items"]] == ["fraud", "price", "fraud"]
    assert answers["labelled"]["items"][2]["labels"] == {"0": 1, "1": 0, "2": 1, "3": 1}
    assert len(answers["predictions"]) == 6  # the replayed export stored once
    (solo,) = answers["solo"]["versions"]
    assert solo["labelled_rows"] == 0  # its label became ambiguous: the labelled row withdrawn
    assert answers["solo"]["unattributed_labels"]["ambiguous"] == 1
    assert len(answers["labels"]) == 6  # the replayed labels stored once
    assert len(answers["traces"]) == 5
    (price_trace,) = [p["trace_id"] for p in answers["predictions"] if p["model_name"] == "price"]
    shared = answers["traces"][price_trace]
    assert [span["name"] for span in shared["spans"]] == ["predict fraud", "predict price", "label price"]
    assert [label["status"] for label in shared["labels"]] == ["joined"]
    assert [label["status"] for label in answers["ambiguous"]["items"]] == ["ambiguous"]
    assert {m["name"]: m["labelled_rows"] for m in answers["models"]} == {
        "duo": 0, "fraud": 5, "price": 2, "solo": 0
    }  # fmt: skip
    assert {t["key"]: t["calls"] for t in answers["by_user"]["items"]} == {"ann": 2, "bob": 1, None: 1}
    assert answers["stats"]["llm"]["total"] == 4
    assert answers["errors"]["items"][0]["status"] == "error"
    assert len(answers["llm_pages"]) == 3  # the three calls that name their provider, paged by one
    assert [call["user_id"] for call in answers["ann_mini"]["items"]] == ["ann"]
    assert len(answers["unflagged"]["items"]) == 4  # calls never scanned count as not flagged
    assert [p["model_version"] for p in answers["price_v2"]["items"]] == ["2"]
    assert [call["risk_level"] for call in answers["risky"]["items"]] == ["medium"]
    # the window rules' read of the latest calls: each stored call of the last seconds, once
    assert sum(len(calls) for _, calls in answers["recent"]) == 4 + 6  # LLM calls, predictions
    assert [a[0] for a in answers["anomalies"]] == ["request_failure"]  # the failed call, once

    for name, answer in expected.items():
        assert _rounded(answers[name]) == _rounded(answer), f"{name}: {answers[name]} != {answer}"


def test_migrations_are_recorded_and_applied_once(clickhouse_url: str) -> None:
    from aither.server.telemetry.clickhouse import ClickHouseStore
    from aither.server.telemetry.schema import MIGRATIONS

    url = clickhouse_url.replace("/aither", "/migrations_once")
    first = ClickHouseStore.open(url)
    try:
        assert first.migrations() == [version for version, _, _ in MIGRATIONS]
        assert first.migrate() == []  # nothing left to apply
        tables = {row[0] for row in first.x.execute("SHOW TABLES FROM migrations_once")}
        assert {"spans", "predictions", "labels", "label_rows", "llm_calls", "rollups"} <= tables
    finally:
        first.close()
    again = ClickHouseStore.open(url)  # a restart applies nothing and loses nothing
    try:
        assert again.migrations() == [version for version, _, _ in MIGRATIONS]
    finally:
        again.close()


def test_a_telemetry_url_of_another_kind_is_refused_up_front(tmp_path: Path) -> None:
    from aither.server.storage import DatabaseURLError

    with pytest.raises(DatabaseURLError, match="clickhouse://"):
        Storage.open(f"sqlite:///{tmp_path / 'a.db'}", telemetry_url="mysql://host/db")


async def test_routes_not_yet_on_clickhouse_answer_501_and_an_outage_503(tmp_path: Path) -> None:
    """Uncovered reads say so (501, not an empty answer); with ClickHouse gone, ingest answers
    503 with Retry-After, so the exporter keeps the spans and retries."""
    pytest.importorskip("clickhouse_driver")
    if clickhouse_server.binary() is None:
        pytest.skip("clickhouse-server is not installed (apt-get install clickhouse-server)")
    server = clickhouse_server.start()
    try:
        settings = _settings(tmp_path, f"sqlite:///{tmp_path / 'aither.db'}", server.url)
        storage = Storage.open(settings.database_url, telemetry_url=settings.telemetry_url)
        bootstrap(storage, settings)
        app = create_app(settings, storage)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://engines.test",
            headers={"Authorization": f"Bearer {KEY}"},
        ) as http:
            assert (await http.get(f"/api/v1/traces/{'ab' * 16}")).status_code == 404
            for path in ("/api/v1/drift/judge", "/api/v1/dashboard/latest", "/api/v1/dashboard/overview"):
                response = await http.get(path)
                assert response.status_code == 501, (path, response.text)
                assert "telemetry" in response.json()["detail"]
            response = await http.post("/api/v1/prune", json={"older_than": "30d"})
            assert response.status_code == 501, response.text
            assert (await http.get("/api/v1/anomalies")).status_code == 200  # relational: served
            server.stop()
            response = await http.post("/v1/traces", content=STREAM[0], headers=PROTOBUF)
            assert response.status_code == 503
            assert response.headers["Retry-After"]
            response = await http.get("/api/v1/predictions")  # reads say so too, not 500
            assert response.status_code == 503, response.text
        storage.close()
    finally:
        server.stop()


async def test_prune_drops_whole_days_of_telemetry(telemetry_engine: tuple[Storage, ServerSettings]) -> None:
    storage, settings = telemetry_engine
    assert storage.telemetry is not None
    app = create_app(settings, storage)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://engines.test",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:
        for payload in STREAM[:4]:
            assert (await http.post("/v1/traces", content=payload, headers=PROTOBUF)).status_code == 200
        assert len((await http.get("/api/v1/predictions")).json()["items"]) == 4
        day_before = 1_790_000_000_000_000_000 - 86_400 * 10**9
        assert storage.telemetry.prune(day_before) == 0  # nothing that old: nothing dropped
        assert len((await http.get("/api/v1/predictions")).json()["items"]) == 4
        assert storage.telemetry.prune(1_790_000_000_000_000_000 + 2 * 86_400 * 10**9) > 0
        assert (await http.get("/api/v1/predictions")).json()["items"] == []
        assert (await http.get("/api/v1/stats", params=WINDOW)).json()["llm"]["total"] == 0


def test_an_upgrade_backfills_what_the_label_join_reads(clickhouse_url: str) -> None:
    """A database at migration 1 holds a prediction; migration 2 (predictions by trace) is
    applied at the next start, and a label then finds that prediction."""
    from aither.server.ingest.records import LabelRecord
    from aither.server.telemetry.clickhouse import ClickHouseStore
    from aither.server.telemetry.labels import ClickHouseLabelJoin
    from aither.server.telemetry.schema import MIGRATIONS

    url = clickhouse_url.replace("/aither", "/upgrade")
    old = ClickHouseStore.open(url, up_to=1)
    try:
        assert old.migrations() == [1]
        old.x.insert(  # what a version-1 server stored
            "upgrade.predictions",
            (
                "org_id",
                "trace_id",
                "span_id",
                "id",
                "model_name",
                "output_rows",
                "prediction",
                "task",
                "time_ns",
                "latency_ms",
                "is_error",
            ),  # fmt: skip
            [
                (
                    "org",
                    "t" * 32,
                    "00000000000000aa",
                    170,
                    "m",
                    1,
                    '{"sample": [1]}',
                    "classification",
                    5,
                    1.0,
                    0,
                )
            ],
        )
    finally:
        old.close()
    new = ClickHouseStore.open(url)
    try:
        assert new.migrations() == [version for version, _, _ in MIGRATIONS]
        label = LabelRecord("t" * 32, "00000000000000bb", None, "m", "1", False, None, 9, values=[1])
        ClickHouseLabelJoin(new.x, "org", new._next_version()).join([], [label])
        assert new.label_status_counts("org", "m") == {"joined": 1}
        assert new.scored_rows("org", 0, 10) == {("m", ""): (1, 1, 1)}
    finally:
        new.close()


def test_the_server_command_stops_with_a_message_for_a_telemetry_db_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aither.cli import main

    pytest.importorskip("clickhouse_driver")
    for url, said in (
        ("mysql://host/db", "use clickhouse://"),
        ("clickhouse://127.0.0.1:1/aither", "did not answer"),
    ):
        monkeypatch.setenv("AITHER_TELEMETRY_DB", url)  # the variable, as the flag's default
        assert main(["server", "--home", str(tmp_path), "--port", "0"]) == 1
        assert said in capsys.readouterr().err
