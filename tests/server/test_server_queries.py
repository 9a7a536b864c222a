"""The query API and the metrics it computes, on data with known answers."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from otlp_builder import ids, new_trace_id

from aither.schema import semconv as sc

SECOND = 1_000_000_000


async def _seed_classifier(send, spans) -> list[str]:  # type: ignore[no-untyped-def]
    """Version 1: 10 single predictions, 8 labelled (6 right); one error. Version 2: one batch."""
    base = spans.now_ns
    trace_ids = []
    truth = [1, 0, 1, 1, 0, 0, 1, 0]
    predicted = [1, 0, 0, 1, 1, 0, 1, 1, 0, 1]
    batch = []
    for index, value in enumerate(predicted):
        span = spans.prediction(
            "fraud", [value], version="1", start_ns=base + index * SECOND, duration_ms=index + 1
        )
        trace_id, _ = ids(span)
        trace_ids.append(trace_id)
        batch.append(span)
        if index < len(truth):
            batch.append(spans.label(trace_id, truth[index], start_ns=base + (index + 10) * SECOND))
    batch.append(
        spans.prediction("fraud", None, version="1", rows=1, error="boom", start_ns=base + 11 * SECOND)
    )
    proba = spans.prediction(
        "fraud",
        [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]],
        version="2",
        method="predict_proba",
        start_ns=base + 20 * SECOND,
    )
    batch += [proba, spans.label(ids(proba)[0], [0, 1, 1], start_ns=base + 30 * SECOND)]
    await send(*batch)
    return trace_ids


async def test_models_list(client, send, spans) -> None:
    await _seed_classifier(send, spans)
    await send(spans.prediction("price", [10.5, 20.0], version=None))
    models = (await client.get("/api/v1/models")).json()
    summary = [
        (m["name"], m["version"], m["task"], m["predictions"], m["rows"], m["errors"], m["labelled_rows"])
        for m in models
    ]
    assert summary == [
        ("fraud", "1", "classification", 11, 10, 1, 8),
        ("fraud", "2", "classification", 1, 3, 0, 3),
        ("price", None, "regression", 1, 2, 0, 0),
    ]
    assert models[0]["label_coverage"] == pytest.approx(0.8)
    assert models[0]["framework"] == "sklearn"


async def test_classifier_metrics_per_version(client, send, spans) -> None:
    await _seed_classifier(send, spans)
    metrics = (await client.get("/api/v1/models/fraud/metrics")).json()
    assert metrics["model"] == "fraud"
    v2, v1 = metrics["versions"]  # newest activity first
    assert (v1["version"], v1["predictions"], v1["rows"], v1["errors"]) == ("1", 11, 10, 1)
    assert v1["error_rate"] == pytest.approx(1 / 11)
    assert v1["labelled_rows"] == 8
    assert v1["label_coverage"] == pytest.approx(0.8)
    # predicted 1,0,0,1,1,0,1,1 vs true 1,0,1,1,0,0,1,0: tp=3 fp=2 fn=1 tn=2
    scores = v1["classification"]
    assert scores["accuracy"] == pytest.approx(5 / 8)
    assert scores["precision"] == pytest.approx(3 / 5)
    assert scores["recall"] == pytest.approx(3 / 4)
    assert scores["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert (scores["average"], scores["scored_rows"]) == ("binary", 8)
    assert v1["regression"] is None
    # latencies 1..10 ms and 2 ms for the error
    latencies = sorted([float(i) for i in range(1, 11)] + [2.0])
    assert v1["latency_ms"]["p50"] == pytest.approx(latencies[5])
    assert v1["latency_ms"]["mean"] == pytest.approx(sum(latencies) / 11)
    assert v1["label_delay_s"]["p50"] == pytest.approx(10.0)
    assert v1["label_delay_s"]["max"] == pytest.approx(10.0)
    # predict_proba: argmax 0,1,1 vs 0,1,1
    assert v2["classification"]["accuracy"] == 1.0
    assert v2["label_coverage"] == 1.0
    assert metrics["labels"] == {"joined": 0, "pending": 0, "ambiguous": 0, "invalid": 0}
    assert metrics["unattributed_labels"]["joined"] == 9


async def test_metrics_window_and_version_filter(client, send, spans) -> None:
    await _seed_classifier(send, spans)
    start = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=spans.now_ns // 1000)
    params = {
        "version": "1",
        "since": start.isoformat(),
        "until": (start + dt.timedelta(seconds=4.5)).isoformat(),
    }
    (version,) = (await client.get("/api/v1/models/fraud/metrics", params=params)).json()["versions"]
    assert (version["predictions"], version["labelled_rows"]) == (5, 5)
    assert version["classification"]["accuracy"] == pytest.approx(3 / 5)
    empty = await client.get("/api/v1/models/fraud/metrics", params={"version": "9"})
    assert empty.status_code == 404
    bad = await client.get(
        "/api/v1/models/fraud/metrics", params={"since": params["until"], "until": params["since"]}
    )
    assert bad.status_code == 400


async def test_regression_metrics(client, send, spans) -> None:
    truth = [1.0, 2.0, 4.0]
    predicted = [1.5, 2.0, 2.0]
    prediction = spans.prediction("price", predicted, method="predict")
    await send(prediction, spans.label(ids(prediction)[0], truth))
    (version,) = (await client.get("/api/v1/models/price/metrics")).json()["versions"]
    assert version["task"] == "regression"
    assert version["classification"] is None
    assert version["regression"]["mae"] == pytest.approx((0.5 + 0 + 2) / 3)
    assert version["regression"]["rmse"] == pytest.approx(math.sqrt((0.25 + 4) / 3))


async def test_unknown_model_metrics_is_404(client) -> None:
    response = await client.get("/api/v1/models/nobody/metrics")
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


async def test_predictions_filters_and_pages(client, send, spans) -> None:
    trace_ids = await _seed_classifier(send, spans)
    page = (
        await client.get("/api/v1/predictions", params={"model": "fraud", "version": "1", "limit": 4})
    ).json()
    assert len(page["items"]) == 4
    assert page["items"][0]["status"] == "error"  # newest first
    seen = [item["trace_id"] for item in page["items"]]
    while page["next_cursor"]:
        page = (
            await client.get(
                "/api/v1/predictions",
                params={"model": "fraud", "version": "1", "limit": 4, "cursor": page["next_cursor"]},
            )
        ).json()
        seen += [item["trace_id"] for item in page["items"]]
    assert len(seen) == len(set(seen)) == 11
    assert set(trace_ids) <= set(seen)
    unlabelled = (
        await client.get("/api/v1/predictions", params={"model": "fraud", "labelled": "false"})
    ).json()
    assert len(unlabelled["items"]) == 3  # two unlabelled, one error
    labelled = (await client.get("/api/v1/predictions", params={"labelled": "true", "version": "1"})).json()
    assert {item["label"] for item in labelled["items"]} == {0, 1}
    first = next(item for item in labelled["items"] if item["trace_id"] == trace_ids[0])
    assert (first["label"], first["prediction"]["sample"], first["features"]["sample"]) == (
        1,
        [1],
        [[1.0, 2.0]],
    )
    bad = await client.get("/api/v1/predictions", params={"cursor": "garbage"})
    assert bad.status_code == 400
    too_many = await client.get("/api/v1/predictions", params={"limit": 5000})
    assert too_many.status_code == 422


async def test_trace_view(client, send, spans) -> None:
    trace_id = new_trace_id()
    root = spans.span("POST /score", {"http.route": "/score"}, trace_id=trace_id)
    prediction = spans.prediction("fraud", [1], trace_id=trace_id)
    llm = spans.span(
        "chat gpt-4o",
        {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 3,
        },
        trace_id=trace_id,
    )
    tool = spans.span(
        "lookup", {sc.AITHER_SPAN_KIND: "event", sc.AITHER_OUTPUT: '{"ok": true}'}, trace_id=trace_id
    )
    await send(root, prediction, llm, tool, spans.label(trace_id, 1, model="fraud"))
    trace = (await client.get(f"/api/v1/traces/{trace_id.upper()}")).json()
    assert trace["trace_id"] == trace_id
    assert sorted(span["name"] for span in trace["spans"]) == sorted(
        ["POST /score", "predict fraud", "chat gpt-4o", "lookup", "label fraud"]
    )
    predict_span = next(span for span in trace["spans"] if span["kind"] == "prediction")
    assert predict_span["attributes"][sc.ML_PREDICTION]  # merged back from the predictions table
    assert [p["labels"] for p in trace["predictions"]] == [{"0": 1}]
    assert [label["status"] for label in trace["labels"]] == ["joined"]
    assert [(c["request_model"], c["input_tokens"]) for c in trace["llm_calls"]] == [("gpt-4o", 3)]
    assert [(o["kind"], o["output"]) for o in trace["operations"]] == [("event", {"ok": True})]
    llm_calls = (await client.get("/api/v1/llm-calls", params={"model": "gpt-4o"})).json()["items"]
    assert [c["trace_id"] for c in llm_calls] == [trace_id]


@pytest.mark.parametrize(("trace_id", "status"), [("nothex", 400), ("0" * 31, 400), ("ab" * 16, 404)])
async def test_invalid_and_unknown_trace_ids(client, trace_id: str, status: int) -> None:
    assert (await client.get(f"/api/v1/traces/{trace_id}")).status_code == status


async def test_label_status_filter_is_validated(client) -> None:
    assert (await client.get("/api/v1/labels", params={"status": "weird"})).status_code == 400


async def test_openapi_schema_documents_the_api(client) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path in (
        "/v1/traces",
        "/api/v1/models",
        "/api/v1/predictions",
        "/api/v1/traces/{trace_id}",
        "/api/v1/models/{model}/metrics",
        "/api/v1/org",
        "/api/v1/org/usage",
        "/api/v1/users/me",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{key_id}",
    ):
        assert path in schema["paths"], path
    assert (await client.get("/healthz")).json()["status"] == "ok"


async def test_features_of_schema_v1_and_v2_are_served_as_sent(client, send, spans) -> None:
    """Schema v1 sent a frame's sample as lists of rows and its dtypes as a list; v2 sends
    records and {column: dtype}. The server keeps and serves both, so older SDKs keep working."""
    v1_meta = {"rows": 1, "columns": ["col1", "col2"], "dtypes": ["float64", "object"]}
    v2_meta = {"rows": 1, "columns": ["col1", "col2"], "dtypes": {"col1": "float64", "col2": "object"}}
    v1 = spans.prediction("frame_v1", [1], features=[[1.5, "A"]])
    v2 = spans.prediction("frame_v2", [0], features=[{"col1": 2.5, "col2": "B"}])
    for span, sample, meta in ((v1, [[1.5, "A"]], v1_meta), (v2, [{"col1": 2.5, "col2": "B"}], v2_meta)):
        (features,) = [kv for kv in span.attributes if kv.key == sc.ML_FEATURES]
        features.value.string_value = json.dumps({"sample": sample, "_meta": meta})
    await send(v1, v2)
    for model, sample, meta in (
        ("frame_v1", [[1.5, "A"]], v1_meta),
        ("frame_v2", [{"col1": 2.5, "col2": "B"}], v2_meta),
    ):
        (item,) = (await client.get("/api/v1/predictions", params={"model": model})).json()["items"]
        assert item["features"] == {"sample": sample, "_meta": meta}
