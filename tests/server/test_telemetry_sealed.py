"""Sealed hours on ClickHouse stay exact: hours sealed, then written into again (late spans, a
span stored twice by two servers racing, labels that arrive late, relabel a row or withdraw
one), give the answers SQLite gives, before and after the job computes them again.

The job runs here by hand (``store.seal(now_ns)``, as the lease holder's loop calls it), with
a ``now`` that seals some hours of the stream and leaves the later ones to the rows.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_builder import PROTOBUF, Spans, body, ids

from aither.schema import semconv as sc
from aither.server import ServerSettings, Storage
from aither.server.ingest.decode import decode_export_request
from aither.server.storage.schema import organizations
from aither.server.storage.window import Window
from aither.server.telemetry import sealed
from aither.server.telemetry.clickhouse import ClickHouseStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_telemetry_engines import (  # noqa: E402
    STREAM,
    _answers,
    _open_engine,
    _rounded,
    _sqlite_answers,
    api_client,
    clickhouse_url,  # noqa: F401 - the fixtures the engines need
    sharded_clickhouse_url,  # noqa: F401
)

HOUR = sealed.HOUR_NS
T0 = 1_790_000_000_000_000_000  # the engines test's stream starts here
BASE = (T0 // HOUR + 10) * HOUR
"""The first hour of this file's own stream (an hour boundary)."""


def _store(storage: Storage) -> ClickHouseStore:
    assert isinstance(storage.telemetry, ClickHouseStore)
    return storage.telemetry


def _books(store: ClickHouseStore, before: int = 2**63) -> tuple[int, int]:
    """(hours sealed, markers not resolved of the hours before ``before``)."""
    ((hours,),) = store.x.execute(f"SELECT uniqExact(hour_ns) FROM {store.db}.sealed_hours")
    ((open_markers,),) = store.x.execute(
        f"SELECT count() FROM (SELECT kind, hour_ns, marker FROM {store.db}.seal_dirty "
        "WHERE hour_ns < %(before)s GROUP BY kind, hour_ns, marker HAVING max(resolved) = 0)",
        {"before": before},
    )
    return int(hours), int(open_markers)


@pytest.mark.slow
@pytest.mark.parametrize("seal_last", [True, False], ids=["sealed", "written-into"])
async def test_sealed_hours_give_sqlites_answers(
    telemetry_engine: tuple[Storage, ServerSettings], tmp_path: Path, seal_last: bool
) -> None:
    """The engines test's stream (replays, labels before their predictions, a row labelled
    again, a label moved away), its hour sealed after the first, fourth and seventh export:
    each later export writes into it again. Then, sealed once more (every hour from the
    aggregates) or not (the hour from the rows), every answer is SQLite's."""
    storage, settings = telemetry_engine
    store = _store(storage)
    now = T0 + 2 * HOUR

    def seal() -> None:
        assert store.seal(now) >= 1

    after: dict[int, Callable[[], Any]] = {0: seal, 3: seal, 6: seal}
    if seal_last:
        after[len(STREAM) - 1] = seal
    answers = await _answers(storage, settings, after=after)
    expected = await _sqlite_answers(tmp_path / "baseline")
    for name, answer in expected.items():
        assert _rounded(answers[name]) == _rounded(answer), f"{name}: {answers[name]} != {answer}"
    hours, open_markers = _books(store)
    assert hours >= 1
    assert (open_markers == 0) is seal_last  # the later exports marked the hour written into
    plan = sealed.plan(store.x, store.db, Window(T0 - HOUR, T0 + HOUR), "predictions")
    assert bool(plan.sealed) is seal_last  # sealed: the hour is read from its aggregates


def _spans() -> tuple[Spans, list[Any], list[Any]]:
    """Predictions (two rows each) and LLM calls in five hours from :data:`BASE`, the first two
    predictions labelled."""
    spans = Spans()
    predictions, calls = [], []
    for hour in range(5):
        at = BASE + hour * HOUR + 600_000_000_000 + hour  # 10 minutes into the hour
        predictions.append(
            spans.prediction(
                "m", [1, 0], start_ns=at, duration_ms=3 + hour, error="bad" if hour == 3 else None
            )
        )
        for user in ("ann", "bob")[: 1 + hour % 2]:
            attrs = {
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 10 + hour,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                sc.ENDUSER_ID: user,
            }
            calls.append(spans.span("chat gpt", attrs, start_ns=at + 1, duration_ms=100 + hour))
    return spans, predictions, calls


WINDOWS = [
    {},
    {"since": "2026-09-22T00:05:00Z", "until": "2026-09-22T03:20:00Z"},  # cuts hours at both ends
]


async def _reads(storage: Storage, settings: ServerSettings, stats: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with api_client(storage, settings) as http:

        async def get(path: str, **params: Any) -> Any:
            response = await http.get(path, params=params)
            assert response.status_code == 200, (path, response.text)
            return response.json()

        for index, window in enumerate(WINDOWS):
            out[f"models{index}"] = await get("/api/v1/models", **window)
            out[f"metrics{index}"] = await get("/api/v1/models/m/metrics", **window)
            out[f"metrics_v1_{index}"] = await get("/api/v1/models/m/metrics", version="1", **window)
            out[f"metrics_test_{index}"] = await get("/api/v1/models/m/metrics", environment="test", **window)
            for group in ("user", "model", "service", "provider", "session"):
                out[f"{group}{index}"] = await get("/api/v1/llm-calls/totals", group_by=group, **window)
            if stats and window:
                out[f"stats{index}"] = await get("/api/v1/stats", **window)
    return out


@pytest.fixture(params=["clickhouse", "clickhouse-sharded", "chdb"])
def telemetry_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Storage, ServerSettings]]:
    yield from _open_engine(request, tmp_path, request.param)


@pytest.fixture
def sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, ServerSettings]]:
    yield from _open_engine(request, tmp_path / "sqlite", "sqlite")


async def _send(engines: list[tuple[Storage, ServerSettings]], *payloads: bytes) -> None:
    for storage, settings in engines:
        async with api_client(storage, settings) as http:
            for payload in payloads:
                response = await http.post("/v1/traces", content=payload, headers=PROTOBUF)
                assert response.status_code == 200, response.content


async def _same(
    engine: tuple[Storage, ServerSettings],
    sqlite: tuple[Storage, ServerSettings],
    step: str,
    stats: bool = True,
) -> None:
    answers = await _reads(*engine, stats=stats)
    expected = await _reads(*sqlite, stats=stats)
    for name, answer in expected.items():
        assert _rounded(answers[name]) == _rounded(answer), f"{step}, {name}: {answers[name]} != {answer}"


@pytest.mark.slow
async def test_hours_sealed_then_written_into_stay_exact(
    telemetry_engine: tuple[Storage, ServerSettings], sqlite: tuple[Storage, ServerSettings]
) -> None:
    store = _store(telemetry_engine[0])
    engines = [telemetry_engine, sqlite]
    spans, predictions, calls = _spans()
    first = body(*predictions, *calls, *(
        spans.label(ids(p)[0], [1, 1], target=ids(p)[1], start_ns=BASE + i * HOUR + 700_000_000_000)
        for i, p in enumerate(predictions[:2])
    ))  # fmt: skip
    await _send(engines, first)
    # the hours that ended 15 minutes before: the first three; the last two stay rows
    assert store.seal(BASE + 3 * HOUR + sealed.SEAL_AFTER_NS) == 3
    plan = sealed.plan(store.x, store.db, Window(), "predictions")
    assert [hour for hour, _ in plan.sealed] == [BASE, BASE + HOUR, BASE + 2 * HOUR]
    await _same(telemetry_engine, sqlite, "sealed")

    # into sealed hours: a row labelled again (newer), a late label, a late call; a prediction
    # that makes a placed label ambiguous (its labelled rows withdrawn)
    (trace0, span0), (trace2, span2) = ids(predictions[0]), ids(predictions[2])
    late = body(
        spans.label(trace0, [0], target=span0, row_indices=[1], start_ns=BASE + 3 * HOUR),
        spans.label(trace2, [0, 1], target=span2, start_ns=BASE + 3 * HOUR),
        spans.span(
            "chat gpt", {sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini", sc.ENDUSER_ID: "cy"}, start_ns=BASE + 5
        ),
    )
    lone = spans.prediction("m", [1], start_ns=BASE + HOUR + 5, version="2")
    lone_trace = ids(lone)[0]
    await _send(engines, late, body(lone, spans.label(lone_trace, 1, start_ns=BASE + HOUR + 6)))
    await _send(engines, body(spans.prediction("n", [0], trace_id=lone_trace, start_ns=BASE + HOUR + 7)))
    assert _books(store, BASE + 3 * HOUR)[1] > 0  # marked: those hours are read from the rows
    await _same(telemetry_engine, sqlite, "written into")
    assert store.seal(BASE + 3 * HOUR + sealed.SEAL_AFTER_NS) >= 2
    assert _books(store, BASE + 3 * HOUR)[1] == 0  # (the hours not sealed yet keep theirs)
    await _same(telemetry_engine, sqlite, "sealed again")

    # a label alone: only the labels' aggregates of its prediction's hour are computed again
    def count(table: str) -> int:
        return int(store.x.execute(f"SELECT count() FROM {store.db}.{table}")[0][0])

    llm_rows, label_rows = count("sealed_llm_calls"), count("sealed_label_rows")
    await _send(
        engines, body(spans.label(trace0, [1], target=span0, row_indices=[0], start_ns=BASE + 4 * HOUR))
    )
    marked = store.x.execute(
        f"SELECT DISTINCT kind, hour_ns FROM (SELECT kind, hour_ns, marker FROM {store.db}.seal_dirty "
        "WHERE hour_ns < %(sealed)s GROUP BY kind, hour_ns, marker HAVING max(resolved) = 0)",
        {"sealed": BASE + 3 * HOUR},
    )
    assert [(kind, int(hour)) for kind, hour in marked] == [("labels", BASE)]
    await _same(telemetry_engine, sqlite, "relabelled")
    assert store.seal(BASE + 3 * HOUR + sealed.SEAL_AFTER_NS) == 1
    assert count("sealed_llm_calls") == llm_rows and count("sealed_label_rows") > label_rows
    await _same(telemetry_engine, sqlite, "relabelled, sealed")

    # two servers racing on a replay: both passed the replay check, both store the export
    storage = telemetry_engine[0]
    with storage.engine.connect() as connection:
        org_id = connection.execute(sa.select(organizations.c.id)).scalar_one()
    store.write(org_id, decode_export_request(ExportTraceServiceRequest.FromString(first)), time.time_ns())
    # (stats also reads the per-minute rollups, which count a raced replay twice on ClickHouse)
    await _same(telemetry_engine, sqlite, "raced replay", stats=False)
    assert store.seal(BASE + 5 * HOUR + sealed.SEAL_AFTER_NS) >= 5
    assert [hour for hour, _ in sealed.plan(store.x, store.db, Window(), "predictions").sealed] == [
        BASE + hour * HOUR for hour in range(5)
    ]
    await _same(telemetry_engine, sqlite, "raced replay, sealed", stats=False)

    # an organisation's prune cuts an hour: read from the rows until computed again
    cutoff = BASE + HOUR + 30 * 60_000_000_000
    store.prune(cutoff, org_id)
    assert BASE + HOUR not in [
        hour for hour, _ in sealed.plan(store.x, store.db, Window(), "predictions").sealed
    ]


def test_the_lease_holder_seals_the_past_hours(clickhouse_url: str, tmp_path: Path) -> None:  # noqa: F811
    """The server's loop seals, while it holds the lease, every hour past its grace period."""
    from aither.server.telemetry.seal_loop import SealLoop

    store = ClickHouseStore.open(clickhouse_url.replace("/aither", f"/s{abs(hash(tmp_path)) % 10**9}"))
    try:
        spans, predictions, calls = _spans()
        store.write("org", decode_export_request(ExportTraceServiceRequest.FromString(body(*predictions))), 0)
        # a holder that lost the lease meanwhile records nothing (the next one computes it all)
        store.seal(held=lambda: False)
        assert _books(store)[0] == 0
        loop = SealLoop(store, lambda: 1, every_s=0.05).start()
        try:
            deadline = time.monotonic() + 30
            while _books(store)[0] < 5 and time.monotonic() < deadline:
                loop._stop.wait(0.05)
        finally:
            loop.stop()
        assert loop.runs >= 1
        # every hour with predictions, then the empty hours up to 15 minutes ago: all sealed
        plan = sealed.plan(store.x, store.db, Window(BASE, BASE + 5 * HOUR), "predictions")
        assert [hour for hour, _ in plan.sealed] == [BASE + hour * HOUR for hour in range(5)]
        assert plan.raw == ()
        (model,) = store.list_models("org")
        assert (model["predictions"], model["errors"]) == (5, 1)
        # a year and more of sealed hours before them: the reads still fit in one query
        year = [(BASE - hour * HOUR, "predictions", T0 + hour) for hour in range(1, 9_001)]
        store.x.insert(f"{store.db}.sealed_hours", ("hour_ns", "kind", "seal"), year)
        assert len(sealed.plan(store.x, store.db, Window(), "predictions").sealed) > 9_000
        (model,) = store.list_models("org")
        assert (model["predictions"], model["errors"]) == (5, 1)
    finally:
        store.close()
