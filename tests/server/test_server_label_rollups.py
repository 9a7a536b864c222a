"""The label-join rollups equal the raw label rows, and the metrics read from them equal the
metrics computed from the rows, on SQLite and PostgreSQL.

Random predictions (classifiers, probabilities, regressors; single and batch; several
versions and environments) and labels (by span id, by model name, as the trace's only
prediction; partial batch labels; a newer label over an older one; labels before their
predictions; a second prediction that makes a label ambiguous) go through the real ingest
path in shuffled batches, some sent twice. After each batch the rollups table must equal the
aggregate of ``label_rows``; at the end, and again after a retention prune at a cutoff inside
a minute, every model's metrics over several windows must equal those computed from the rows.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from otlp_builder import PROTOBUF, Spans, body, ids
from test_server_postgres import postgres_url  # noqa: F401  (the throwaway cluster, module-scoped)

from aither.server import ServerSettings, Storage, create_app
from aither.server.analysis.quality import classification_scores
from aither.server.dashboard import queries as q
from aither.server.detection.retention import prune
from aither.server.storage import label_rollups as lr_mod
from aither.server.storage.filters import ModelScope
from aither.server.storage.metrics import model_metrics
from aither.server.storage.queries import Window, list_models
from aither.server.storage.schema import (
    ROLLUP_SUMS,
    label_rollups,
    label_rollups_hourly,
    label_rows,
    predictions,
    rollups,
    rollups_hourly,
)
from aither.server.storage.volume import model_volumes

KEY = "aith_label_rollups_test_key_0000001"
MINUTE = 60 * 10**9
SECOND = 10**9


def _traffic(rng: random.Random, spans: Spans, start_ns: int) -> list[list[Span]]:
    """Predictions and labels over three hours, in shuffled batches (labels may come first)."""
    items: list[Span] = []
    later: list[Span] = []  # second predictions in a trace: sent after the rest
    for _ in range(90):
        time_ns = start_ns + rng.randrange(180 * MINUTE)
        version = rng.choice(["1", "2", None])
        environment = rng.choice(["prod", "staging"])
        kind = rng.choice(["class", "class", "proba", "reg"])
        rows = rng.choice([1, 1, 3])
        if kind == "class":
            sample: Any = [rng.randrange(3) for _ in range(rows)]
            method, model = "predict", "clf"
        elif kind == "proba":
            sample = [[round(p := rng.random(), 3), round(1 - p, 3)] for _ in range(rows)]
            method, model = "predict_proba", "clf"
        else:
            sample = [round(rng.uniform(0, 100), 2) + 0.5 for _ in range(rows)]
            method, model = "predict", "reg"
        prediction = spans.prediction(
            model, sample, version=version, method=method, environment=environment, start_ns=time_ns
        )
        trace_id, span_id = ids(prediction)
        items.append(prediction)

        def truth() -> Any:
            return rng.randrange(3) if model == "clf" else round(rng.uniform(0, 100), 1) + 0.25

        for _ in range(rng.choice([0, 1, 1, 2])):  # two labels: the newer one wins
            label_ns = time_ns + rng.randrange(-30 * SECOND, 7200 * SECOND)
            rule = rng.choice(["span", "model", "only"])
            target = span_id if rule == "span" else None
            named = model if rule == "model" else None
            if rows == 1:
                items.append(spans.label(trace_id, truth(), target=target, model=named, start_ns=label_ns))
            else:
                indices = sorted(rng.sample(range(rows), rng.randrange(1, rows + 1)))
                items.append(
                    spans.label(
                        trace_id,
                        [truth() for _ in indices],
                        row_indices=indices,
                        target=target,
                        model=named,
                        start_ns=label_ns,
                    )
                )
        if rng.random() < 0.15:  # a second prediction in the trace: "model"/"only" labels move
            later.append(
                spans.prediction(
                    model, sample, version=version, method=method, trace_id=trace_id, start_ns=time_ns + 5
                )
            )
    rng.shuffle(items)
    batches = [items[start : start + 17] for start in range(0, len(items), 17)]
    return [*batches, later]


def _raw_rollups(connection: sa.Connection, org_id: str) -> dict[tuple[int, Any], lr_mod.LabelRollup]:
    lr = label_rows.c
    return lr_mod.collect(connection.execute(lr_mod._facts_query(lr.org_id == org_id)))


def _stored_rollups(
    connection: sa.Connection, org_id: str, table: sa.Table = label_rollups
) -> dict[tuple[int, Any], dict[str, Any]]:
    rows = connection.execute(sa.select(table).where(table.c.org_id == org_id)).mappings()
    return {(row["minute_ns"], tuple(row[name] for name in lr_mod.KEY_COLUMNS)): dict(row) for row in rows}


def _by_hour(raw: dict[tuple[int, Any], lr_mod.LabelRollup]) -> dict[tuple[int, Any], lr_mod.LabelRollup]:
    hours: dict[tuple[int, Any], lr_mod.LabelRollup] = {}
    for (minute, key), rollup in raw.items():
        hours.setdefault((lr_mod.hour_of(minute), key), lr_mod.LabelRollup()).merge(rollup)
    return hours


def _assert_rollups_equal_rows(storage: Storage, org_id: str) -> int:
    """Both tables equal the aggregate of ``label_rows``; the number of labelled rows."""
    with storage.read() as connection:
        raw = _raw_rollups(connection, org_id)
        tables = [
            (_stored_rollups(connection, org_id), raw),
            (_stored_rollups(connection, org_id, label_rollups_hourly), _by_hour(raw)),
        ]
    for stored, expected_rollups in tables:
        assert set(stored) == set(expected_rollups)
        for key, rollup in expected_rollups.items():
            for name, value in rollup.to_row().items():
                assert stored[key][name] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, name)
    return sum(rollup.rows for rollup in raw.values())


def _raw_metrics(
    connection: sa.Connection, org_id: str, model: str, window: Window, environment: str | None
) -> dict[str | None, dict[str, Any]]:
    """Labelled rows, delay, classification and regression per version, from ``label_rows``."""
    lr = label_rows.c
    clauses = [lr.org_id == org_id, lr.model_name == model, *window.clauses(lr.pred_time_ns)]
    if environment is not None:
        clauses.append(predictions.c.environment == environment)
    query = (
        sa.select(
            lr.model_version,
            lr.task,
            lr.pred_class,
            lr.label_class,
            lr.pred_num,
            lr.label_num,
            lr.pred_time_ns,
            lr.label_time_ns,
        )
        .select_from(label_rows.join(predictions, predictions.c.id == lr.prediction_id))
        .where(*clauses)
    )
    out: dict[str | None, dict[str, Any]] = {}
    confusion: dict[str | None, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    errors: dict[str | None, list[float]] = defaultdict(list)
    for version, task, pred_class, label_class, pred_num, label_num, pred_ns, label_ns in connection.execute(
        query
    ):
        entry = out.setdefault(version, {"labelled_rows": 0, "delays": []})
        entry["labelled_rows"] += 1
        entry["delays"].append((label_ns - pred_ns) / 1e9)
        if task == "classification" and pred_class is not None and label_class is not None:
            confusion[version][(pred_class, label_class)] += 1
        if task == "regression" and pred_num is not None and label_num is not None:
            errors[version].append(pred_num - label_num)
    for version, entry in out.items():
        delays = sorted(entry.pop("delays"))
        entry["label_delay_s"] = {"mean": sum(delays) / len(delays), "max": delays[-1]}
        entry["classification"] = (
            classification_scores(dict(confusion[version])) if confusion[version] else None
        )
        found = errors[version]
        entry["regression"] = (
            {
                "mae": sum(abs(e) for e in found) / len(found),
                "rmse": math.sqrt(sum(e * e for e in found) / len(found)),
                "scored_rows": len(found),
            }
            if found
            else None
        )
    return out


def _assert_metrics_equal_rows(storage: Storage, org_id: str, windows: list[Window]) -> int:
    compared = 0
    with storage.read() as connection:
        for window in windows:
            for model in ("clf", "reg"):
                for environment in (None, "prod"):
                    raw = _raw_metrics(connection, org_id, model, window, environment)
                    versions = model_metrics(
                        connection, org_id, ModelScope(model, environment=environment, window=window)
                    )
                    for entry in versions:
                        expected = raw.get(entry["version"])
                        if expected is None:
                            assert entry["labelled_rows"] == 0
                            continue
                        assert entry["labelled_rows"] == expected["labelled_rows"]
                        for name in ("mean", "max"):
                            assert entry["label_delay_s"][name] == pytest.approx(
                                expected["label_delay_s"][name]
                            )
                        for name in ("classification", "regression"):
                            assert (
                                entry[name] == pytest.approx(expected[name])
                                if expected[name]
                                else entry[name] is None
                            )
                        compared += 1
            listed = {
                (m["model_name"], m["model_version"]): m["labelled_rows"]
                for m in list_models(connection, org_id, window)
            }
            for model in ("clf", "reg"):
                for version, entry in _raw_metrics(connection, org_id, model, window, None).items():
                    assert listed.get((model, version)) == entry["labelled_rows"]
    return compared


def _assert_hourly_rollups_agree(storage: Storage, org_id: str, windows: list[Window]) -> None:
    """The hourly rollups are the sums of the minutes, and what the dashboard and the volume
    figures read through them equals what they read from the minutes and the rows."""
    r, h = rollups.c, rollups_hourly.c
    keys = ("kind", "service", "model", "version", "environment")
    names = [name for name in ROLLUP_SUMS if not name.startswith("lat_")] + ["lat_03", "lat_10"]
    with storage.read() as connection:
        hour = r.minute_ns - r.minute_ns % (60 * MINUTE)
        by_minutes = {
            tuple(row[:6]): tuple(row[6:])
            for row in connection.execute(
                sa.select(
                    hour,
                    *(r[k] for k in keys),
                    *(sa.func.sum(r[n]) for n in names),
                    sa.func.max(r.latency_max_ms),
                )
                .where(r.org_id == org_id)
                .group_by(hour, *(r[k] for k in keys))
            )
        }
        stored = {
            tuple(row[:6]): tuple(row[6:])
            for row in connection.execute(
                sa.select(h.minute_ns, *(h[k] for k in keys), *(h[n] for n in names), h.latency_max_ms).where(
                    h.org_id == org_id
                )
            )
        }
        assert set(stored) == set(by_minutes) and by_minutes
        for key, values in by_minutes.items():
            assert stored[key] == pytest.approx(values), key
        for window in windows:
            if window.since_ns is None or window.until_ns is None:
                continue
            for width in (7 * MINUTE, (window.until_ns - window.since_ns) // 5 + 1):
                for kind in ("prediction", "llm"):
                    query = q.BucketQuery(
                        org_id, kind, window.since_ns, window.until_ns, width, by_model=True, by_version=True
                    )
                    fast = q.grouped_buckets(connection, query)
                    slow = q.grouped_buckets(connection, query, hourly=False)
                    assert fast == slow
            _assert_label_series_equal_rows(connection, org_id, window)
            volumes, _ = model_volumes(connection, org_id, ModelScope(window=window))
            p = predictions.c
            raw = connection.execute(
                sa.select(p.model_name, p.model_version, sa.func.count(), sa.func.sum(p.output_rows))
                .where(p.org_id == org_id, *window.clauses(p.time_ns))
                .group_by(p.model_name, p.model_version)
            )
            assert {
                (m, v): (round(rollup.count), round(rollup.rows)) for (m, v), rollup in volumes.items()
            } == {(m, v): (count, int(rows or 0)) for m, v, count, rows in raw}


def _assert_label_series_equal_rows(connection: sa.Connection, org_id: str, window: Window) -> None:
    """The accuracy series' sums per bucket equal the label rows', bucketed as documented: a
    whole minute by its start, a row of a partial edge minute by its prediction time."""
    assert window.since_ns is not None and window.until_ns is not None
    since, until = window.since_ns, window.until_ns
    full_from, full_to = -(-since // MINUTE) * MINUTE, until - until % MINUTE
    for width in (7 * MINUTE, (until - since) // 4 + 1):
        expected: dict[int, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        lr = label_rows.c
        query = lr_mod._facts_query(
            lr.org_id == org_id, lr.model_name == "clf", *window.clauses(lr.pred_time_ns)
        )
        for fact in connection.execute(query):
            minute = lr_mod.minute_of(fact[8])
            at = minute if full_from <= minute < full_to else fact[8]
            sums = expected[max(0, (at - since) // width)]
            sums[0] += 1
            sums[1] += fact[4] is not None and fact[4] == fact[6]
            if fact[5] is not None and fact[7] is not None:
                sums[2] += 1
                sums[3] += abs(fact[5] - fact[7])
        found = lr_mod.window_sums(connection, org_id, since, until, (), model="clf", buckets=(since, width))
        assert {index: [r.rows, r.correct, r.num_rows, r.abs_err_sum] for (index,), r in found.items()} == {
            index: [sums[0], sums[1], sums[2], pytest.approx(sums[3])] for index, sums in expected.items()
        }


async def test_label_rollups_equal_the_label_rows(backend: tuple[Storage, ServerSettings]) -> None:
    storage, settings = backend
    app = create_app(settings, storage)
    rng = random.Random(20261203)
    spans = Spans()
    start_ns = spans.now_ns - spans.now_ns % MINUTE - 4 * 60 * MINUTE + 7 * SECOND
    batches = _traffic(rng, spans, start_ns)
    sent: list[list[Span]] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://aither.test",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:
        org_id = (await http.get("/api/v1/org")).json()["id"]
        for batch in batches:
            replay = rng.random() < 0.3 and sent
            for payload in [batch, rng.choice(sent)] if replay else [batch]:
                response = await http.post("/v1/traces", content=body(*payload), headers=PROTOBUF)
                assert response.status_code == 200, response.text
            sent.append(batch)
            _assert_rollups_equal_rows(storage, org_id)
        labelled = _assert_rollups_equal_rows(storage, org_id)
        assert labelled > 50  # the traffic labelled rows of every kind
        with storage.read() as connection:
            moved = connection.execute(sa.select(sa.func.count()).select_from(label_rows)).scalar()
        assert moved == labelled
        windows = [
            Window(),
            Window(start_ns + 17 * MINUTE + 3 * SECOND, start_ns + 150 * MINUTE + 41 * SECOND),
            Window(start_ns + 60 * MINUTE, start_ns + 120 * MINUTE),  # whole minutes
            Window(start_ns + 30 * SECOND, start_ns + 50 * SECOND),  # inside one minute
            Window(start_ns + 95 * MINUTE + 1, None),
            Window(None, start_ns + 130 * MINUTE + 1),
        ]
        assert _assert_metrics_equal_rows(storage, org_id, windows) > 10
        _assert_hourly_rollups_agree(storage, org_id, windows)

        cutoff = start_ns + 90 * MINUTE + 29 * SECOND  # inside a minute: that minute is recomputed
        result = prune(storage, cutoff)
        assert result.deleted.get("label_rows", 0) > 0
        remaining = _assert_rollups_equal_rows(storage, org_id)
        assert 0 < remaining < labelled
        assert _assert_metrics_equal_rows(storage, org_id, windows) > 5
        _assert_hourly_rollups_agree(storage, org_id, windows)
        metrics = (await http.get("/api/v1/models/clf/metrics")).json()
        assert sum(v["labelled_rows"] for v in metrics["versions"]) == sum(
            e["labelled_rows"] for e in _raw_metrics_all(storage, org_id, "clf")
        )


def _raw_metrics_all(storage: Storage, org_id: str, model: str) -> list[dict[str, Any]]:
    with storage.read() as connection:
        return list(_raw_metrics(connection, org_id, model, Window(), None).values())


async def test_backfill_builds_the_rollups_of_stored_label_rows(
    storage: Storage, send: Any, spans: Spans
) -> None:
    """What migration 0010 runs on an upgraded database: the rollups from the rows alone."""
    batch = []
    for index in range(12):
        prediction = spans.prediction(
            "clf", [index % 3, 1], version=str(index % 2), start_ns=spans.now_ns - index * MINUTE
        )
        batch += [prediction, spans.label(ids(prediction)[0], [1, index % 2], start_ns=spans.now_ns)]
    await send(*batch)
    with storage.read() as connection:
        org_id = connection.execute(sa.select(label_rows.c.org_id).limit(1)).scalar_one()
        kept = _stored_rollups(connection, org_id)
    assert sum(row["rows"] for row in kept.values()) == 24
    with storage.read() as connection:
        kept_hours = _stored_rollups(connection, org_id, label_rollups_hourly)
    assert sum(row["rows"] for row in kept_hours.values()) == 24
    with storage.engine.begin() as connection:
        connection.execute(label_rollups.delete())
        connection.execute(label_rollups_hourly.delete())
        assert lr_mod.backfill(connection, chunk=5) == 24  # several chunks
    with storage.read() as connection:
        assert _stored_rollups(connection, org_id) == kept
        assert _stored_rollups(connection, org_id, label_rollups_hourly) == kept_hours
