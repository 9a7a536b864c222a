"""Drift gives the same answers on every engine: SQLite, PostgreSQL, ClickHouse 18.16 and chDB.

One stream (bytes built once) raises input and output drift (a feature that moves after the
reference window, then comes back), concept drift (labels whose error rate rises), and sets a
reference from a time window of stored samples; the drift answers and every anomaly must equal
SQLite's. With telemetry in ClickHouse, drift's state is relational and the labelled rows and
samples it reads come from ClickHouse (``aither/server/telemetry/drift.py``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from otlp_builder import PROTOBUF, Spans, body, new_trace_id
from test_server_drift import SMALL, _call
from test_telemetry_engines import (  # noqa: F401 - fixtures
    KEY,
    _open_engine,
    _rounded,
    api_client,
    clickhouse_url,
    sharded_clickhouse_url,
)

from aither.server import ServerSettings, Storage
from aither.server.drift import monitor_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_server_postgres import postgres_url  # noqa: E402, F401 - the module's PostgreSQL fixture

T0 = 1_900_000_000_000_000_000
"""2030: the labels are newer than the server's start (older ones are history to drift)."""
SECOND = 1_000_000_000


def _stream() -> list[bytes]:
    spans = Spans()
    spans.now_ns = T0
    rng = np.random.default_rng(11)
    exports = []
    # 200 rows of reference, a window of 100 whose f0 moved (and classes with it), one that did not
    for call, shift in enumerate([0.0] * 4 + [3.0] * 2 + [0.0] * 2):
        x = rng.normal(0, 1, (50, 2))
        x[:, 0] += shift
        outputs = [int(v > 1.5) for v in x[:, 0]]
        exports.append(body(_call(spans, "drifty", x, outputs, start_ns=T0 + call * SECOND)))
    # labels: 100 reference rows, a window of 100 as good, then one much worse
    for b in range(6):
        classes = [int(v) for v in rng.integers(0, 2, 50)]
        trace_id = new_trace_id()
        at = T0 + (100 + 10 * b) * SECOND
        exports.append(body(spans.prediction("c", classes, trace_id=trace_id, start_ns=at)))
        error = 0.05 if b < 4 else 0.5
        truth = [c ^ int(rng.random() < error) for c in classes]
        exports.append(body(spans.label(trace_id, truth, start_ns=at + 5 * SECOND)))
    return exports


STREAM = _stream()
ANOMALY = ("rule", "kind", "model", "version", "environment", "severity", "status", "count", "evidence")
REFERENCE = {  # the reference calls' time window
    "start": "2030-03-17T17:46:40Z",
    "end": "2030-03-17T17:46:44Z",
}


@pytest.fixture(params=["sqlite", "postgresql", "clickhouse", "clickhouse-sharded", "chdb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, ServerSettings]]:
    yield from _open_engine(request, tmp_path, request.param, drift=SMALL)


async def _answers(storage: Storage, settings: ServerSettings) -> dict[str, Any]:
    async with api_client(storage, settings) as http:
        for payload in STREAM:
            response = await http.post("/v1/traces", content=payload, headers=PROTOBUF)
            assert response.status_code == 200, response.content

        async def get(path: str, **params: Any) -> Any:
            response = await http.get(path, params=params)
            assert response.status_code == 200, (path, response.text)
            return response.json()

        anomalies = sorted(
            (tuple(a[name] for name in ANOMALY) for a in await get("/api/v1/anomalies", limit=100)),
            key=json.dumps,
        )
        before = {model: await get(f"/api/v1/models/{model}/drift") for model in ("drifty", "c")}
        response = await http.post("/api/v1/models/drifty/reference", json=REFERENCE)
        assert response.status_code == 201, response.text
        after = await get("/api/v1/models/drifty/drift")
        for reference in [*after["references"], *(r for d in before.values() for r in d["references"])]:
            del reference["created"]  # when this server stored it
        return {
            "anomalies": anomalies,
            "drift": before,
            "reference": response.json(),
            "references": after["references"],
            "judge": await get("/api/v1/drift/judge"),
            "errors": monitor_for(storage.engine).errors,
        }


_baseline: dict[str, Any] = {}


@pytest.mark.slow
async def test_every_engine_gives_sqlites_drift(
    engine: tuple[Storage, ServerSettings], tmp_path: Path
) -> None:
    storage, settings = engine
    answers = await _answers(storage, settings)
    if not _baseline:
        base = tmp_path / "baseline"
        base.mkdir()
        sqlite = Storage.open(f"sqlite:///{base / 'aither.db'}")
        from aither.server.bootstrap import bootstrap

        base_settings = ServerSettings(
            home=base,
            database_url=f"sqlite:///{base / 'aither.db'}",
            init_api_key=KEY,
            announce=False,
            write_credentials=False,
            drift=SMALL,
        )
        bootstrap(sqlite, base_settings)
        try:
            _baseline.update(await _answers(sqlite, base_settings))
        finally:
            sqlite.close()

    # the answers themselves, so that a bug shared by every engine fails too
    assert answers["errors"] == 0
    rules = {(a[0], a[2], a[6]) for a in answers["anomalies"]}
    assert ("input_drift", "drifty", "resolved") in rules  # moved, then came back
    assert ("concept_drift", "c", "open") in rules
    (concept,) = [a for a in answers["anomalies"] if a[0] == "concept_drift"]
    assert concept[-1]["metric"] == "accuracy" and concept[-1]["window"] < 0.7
    drifted = [w["drifted"] for w in answers["drift"]["drifty"]["windows"]]
    assert "f0" in drifted[-1] and "f1" not in drifted[-1] and drifted[0] == []  # the calm one newest
    labelled = [w for w in answers["drift"]["c"]["windows"] if w["features"][0]["kind"] == "labelled"]
    assert len(labelled) == 2
    assert answers["reference"]["source"] == "window" and answers["reference"]["rows"] == 200
    assert {r["source"] for r in answers["references"]} == {"first_rows", "window"}

    for name, answer in _baseline.items():
        assert _rounded(answers[name]) == _rounded(answer), f"{name}: {answers[name]} != {answer}"


def test_labelled_rows_come_after_the_cursor_in_whole_writes(tmp_path: Path) -> None:
    """Concept drift's read on ClickHouse: rows past the cursor by version, a write never cut
    at the limit (the first one whole however large), withdrawn rows left out."""
    pytest.importorskip("chdb", reason="chdb (ClickHouse 26.x in-process) is not installed")
    from aither.server.telemetry.clickhouse import ClickHouseStore
    from aither.server.telemetry.labels import LABEL_ROW_COLUMNS

    store = ClickHouseStore.open(f"chdb://{tmp_path / 'chdb'}")
    try:

        def row(version: int, index: int, deleted: int = 0, label_time: int = 50) -> tuple[Any, ...]:
            values = {
                "org_id": "org", "model_name": "m", "pred_trace_id": "t", "pred_span_id": f"{version:016x}",
                "row_index": index, "label_trace_id": "l", "label_span_id": "s", "model_version": None,
                "environment": None, "task": "classification", "pred_class": "1", "pred_num": None,
                "label_class": "0", "label_num": None, "value": "0", "pred_time_ns": 10 + index,
                "label_time_ns": label_time, "deleted": deleted, "version": version,
            }  # fmt: skip
            return tuple(values[name] for name in LABEL_ROW_COLUMNS)

        writes = [row(5, i) for i in range(3)] + [row(7, i) for i in range(4)] + [row(9, 0), row(9, 1, 1)]
        store.x.insert(f"{store.db}.label_rows", LABEL_ROW_COLUMNS, [*writes, row(3, 0, label_time=5)])
        versions = lambda found: [(r[0], r[-1]) for r in found]  # noqa: E731
        assert store.label_cursor("org", 40) == 3  # the row labelled before 40: history
        assert store.label_cursor("other", 40) == 0
        assert versions(store.labelled_rows_after("org", 3, 5)) == [(5, 10), (5, 11), (5, 12)]
        assert versions(store.labelled_rows_after("org", 5, 2)) == [(7, 10), (7, 11), (7, 12), (7, 13)]
        assert versions(store.labelled_rows_after("org", 7, 100)) == [(9, 10)]  # the withdrawn one out
        assert store.labelled_rows_after("org", 9, 100) == []
    finally:
        store.close()
