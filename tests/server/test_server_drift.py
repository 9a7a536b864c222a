"""Drift in the server: windows from row samples, references, the drift API, and bad input.

Spans are built by hand (``otlp_builder``) and POSTed to the real app; windows are small here
(100 sampled rows) so each test stays fast. The SDK side is in ``tests/e2e/test_e2e_drift.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from otlp_builder import Spans, new_trace_id

from aither.schema import semconv as sc
from aither.server import ServerSettings
from aither.server.drift import DriftSettings, monitor_for

SMALL = DriftSettings(
    reference_rows=200, window_rows=100, min_rows=50, label_reference_rows=100, label_window_rows=100
)


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        init_api_key="aith_test_admin_key_0123456789abcdef",
        announce=False,
        write_credentials=False,
        drift=SMALL,
    )


def _call(spans: Spans, model: str, x: np.ndarray[Any, Any], outputs: list[Any], **kw: Any) -> Any:
    """A prediction span of a call of ``len(x)`` rows whose ml.features shows only 2 of them."""
    span = spans.prediction(model, outputs, features=x[:2].tolist(), rows=len(x), **kw)
    stats = {
        "columns": [f"f{i}" for i in range(x.shape[1])],
        "rows": x.tolist(),
        "index": list(range(len(x))),
        "of": len(x),
    }
    extra = {
        sc.ML_FEATURES_STATS_SAMPLE: json.dumps(stats),
        sc.ML_PREDICTION_STATS_SAMPLE: json.dumps({"values": outputs}),
    }
    from otlp_builder import attributes

    span.attributes.extend(attributes(extra))
    return span


async def _anomalies(client: httpx.AsyncClient, model: str) -> dict[str, Any]:
    response = await client.get("/api/v1/anomalies", params={"limit": 100})
    assert response.status_code == 200
    return {a["rule"]: a for a in response.json() if a["model"] == model}


async def test_a_shifted_feature_and_class_mix_are_named(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    for b in range(6):  # 200 reference rows, then windows of 100
        x = rng.standard_normal((50, 3))
        if b >= 4:
            x[:, 1] += 1.0
        classes = [0 if b < 4 else int(v > -1.0) for v in x[:, 0]]
        await send(_call(spans, "m", x, classes))
    found = await _anomalies(client, "m")
    assert found["input_drift"]["evidence"]["features"] == ["f1"]
    assert found["input_drift"]["detection_method"] == "psi"
    assert found["output_drift"]["evidence"]["features"] == ["prediction"]
    scores = found["input_drift"]["evidence"]["scores"][0]
    assert scores["scores"]["ks"] < 1e-6 and scores["scores"]["psi"] > 0.3
    assert scores["window_mean"] == pytest.approx(scores["reference_mean"] + 1.0, abs=0.4)

    drift = (await client.get("/api/v1/models/m/drift")).json()
    assert drift["references"][0]["source"] == "first_rows"
    assert drift["windows"][0]["drifted"][:1] == ["prediction"] or "f1" in drift["windows"][0]["drifted"]


async def test_small_calls_are_read_from_ml_features(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    """A one-row call carries no stats sample (ml.features holds its row): drift still sees it."""
    rng = np.random.default_rng(2)
    batch = []
    for i in range(400):
        shift = 2.0 if i >= 300 else 0.0
        batch.append(spans.prediction("one", [0], features=[[float(rng.normal() + shift), 1.0]], rows=1))
    await send(*batch)
    found = await _anomalies(client, "one")
    assert found["input_drift"]["evidence"]["features"] == ["f0"]


async def test_a_stationary_stream_raises_nothing(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    for _ in range(30):  # 1,300 rows past the reference: 13 windows of 20 features
        x = rng.standard_normal((50, 20))
        await send(_call(spans, "calm", x, [int(v > 0) for v in x[:, 0]]))
    assert await _anomalies(client, "calm") == {}
    drift = (await client.get("/api/v1/models/calm/drift", params={"windows": 100})).json()
    assert len([w for w in drift["windows"] if w["environment"] == "test"]) == 13


async def test_a_reference_data_set_replaces_the_first_rows(client, send, spans, storage) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    train = rng.standard_normal((1000, 2)) + np.array([5.0, 0.0])
    response = await client.post(
        "/api/v1/models/ref/reference", json={"version": "1", "columns": ["f0", "f1"], "rows": train.tolist()}
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "model": "ref",
        "version": "1",
        "source": "dataset",
        "rows": 1000,
        "columns": ["f0", "f1"],
    }
    for _ in range(2):  # production is not centred at 5: the first window already drifts
        await send(_call(spans, "ref", rng.standard_normal((50, 2)), [0] * 50))
    found = await _anomalies(client, "ref")
    assert found["input_drift"]["evidence"]["features"] == ["f0"]
    assert found["input_drift"]["evidence"]["reference"] == {"source": "dataset", "rows": 1000}
    stored = (await client.get("/api/v1/models/ref/drift")).json()["references"]
    assert [(r["version"], r["source"], r["rows"]) for r in stored] == [("1", "dataset", 1000)]
    assert monitor_for(storage.engine).errors == 0


async def test_a_reference_from_a_time_window(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    await send(_call(spans, "win", rng.standard_normal((50, 2)), [1] * 50, start_ns=spans.now_ns - 10**9))
    start = "1970-01-01T00:00:00Z"
    response = await client.post(
        "/api/v1/models/win/reference", json={"start": start, "end": "2100-01-01T00:00:00Z"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "window" and response.json()["rows"] == 50
    empty = await client.post(
        "/api/v1/models/nothing/reference", json={"start": start, "end": "1970-01-02T00:00:00Z"}
    )
    assert empty.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"rows": [[1.0]]},
        {"columns": ["a"], "rows": [[1.0]], "start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
        {"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
        {"columns": ["a"], "rows": [[1.0], [2.0]], "outputs": [1]},
        {"columns": ["a"], "rows": "not rows"},
    ],
)
async def test_a_bad_reference_is_a_clear_422(client, body) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/models/bad/reference", json=body)
    assert response.status_code == 422, response.text


async def test_setting_a_reference_needs_write_or_admin(client, make_key) -> None:  # type: ignore[no-untyped-def]
    reader = await make_key("read")
    response = await client.post(
        "/api/v1/models/x/reference",
        json={"columns": ["a"], "rows": [[1.0]]},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert response.status_code == 403
    writer = await make_key("write")
    response = await client.post(
        "/api/v1/models/x/reference",
        json={"columns": ["a"], "rows": [[1.0]]},
        headers={"Authorization": f"Bearer {writer}"},
    )
    assert response.status_code == 201


async def test_a_malformed_stats_sample_is_stored_and_skipped(client, send, spans, storage, counts) -> None:  # type: ignore[no-untyped-def]
    from otlp_builder import attributes

    span = spans.prediction("broken", [1], rows=1)
    span.attributes.extend(attributes({sc.ML_FEATURES_STATS_SAMPLE: "{not json"}))
    await send(span)
    assert counts()["predictions"] == 1
    assert monitor_for(storage.engine).errors == 0


async def test_cells_that_are_lists_or_mappings_are_left_out(client, send, spans, storage) -> None:  # type: ignore[no-untyped-def]
    """A reference data set or a stats sample whose cells are arrays or objects (a column of
    lists; what a fuzzer sends) is read without them, as missing values, not a 500."""
    from otlp_builder import attributes

    response = await client.post(
        "/api/v1/models/nested/reference",
        json={
            "columns": ["a", "b"],
            "rows": [[[], 1.5], [{"x": 1}, 2.5], [[[1]], "c"]],
            "outputs": [[[]], {}, 1],
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 3
    sample = {"columns": ["a", "b"], "rows": [[[1, 2], 0.5], [{"k": "v"}, 1.5]]}
    span = spans.prediction("nested", [1, 0], rows=2)
    span.attributes.extend(attributes({sc.ML_FEATURES_STATS_SAMPLE: json.dumps(sample)}))
    await send(span)
    assert monitor_for(storage.engine).errors == 0


def test_a_drift_table_holds_scalars_only() -> None:
    from aither.server.drift.reference import input_table, output_table

    table = input_table(["a", "b"], [[[], 1], [{"x": 1}, "NaN"], ["s", True]])
    assert table == {"a": ["s"], "b": [1, True]}
    assert output_table([{}, [[0.2, 0.8]], "yes", None, "Infinity"]) == {
        "prediction": ["1", "yes"],
        "confidence": [0.8],
    }


async def test_labels_with_a_rising_error_rate_raise_concept_drift(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(6)
    for b in range(6):  # 50 labelled rows a call: 100 reference rows, then windows of 100
        classes = [int(v) for v in rng.integers(0, 2, 50)]
        trace_id = new_trace_id()
        await send(spans.prediction("c", classes, trace_id=trace_id))
        error = 0.05 if b < 4 else 0.5
        truth = [c ^ int(rng.random() < error) for c in classes]
        await send(spans.label(trace_id, truth))
    found = await _anomalies(client, "c")
    assert set(found) == {"concept_drift"}
    evidence = found["concept_drift"]["evidence"]
    assert evidence["metric"] == "accuracy" and evidence["test"] == "two_proportion_z"
    assert evidence["p_value"] < 0.001 and evidence["window"] < 0.7


async def test_regression_errors_that_grow_raise_concept_drift_by_t_test(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    for b in range(6):
        values = [float(v) for v in rng.normal(10, 1, 50)]
        trace_id = new_trace_id()
        await send(spans.prediction("r", values, trace_id=trace_id))
        noise = 0.1 if b < 4 else 1.0
        await send(spans.label(trace_id, [v + float(rng.normal(0, noise)) for v in values]))
    found = await _anomalies(client, "r")
    assert found["concept_drift"]["detection_method"] == "t_test"
    assert found["concept_drift"]["evidence"]["metric"] == "mae"


async def test_falling_confidence_is_an_estimated_quality_degradation(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(8)
    for b in range(6):
        top = rng.uniform(0.9, 1.0, 50) if b < 4 else rng.uniform(0.5, 0.75, 50)
        probabilities = [[float(p), float(1 - p)] for p in top]
        await send(_call(spans, "p", rng.standard_normal((50, 2)), probabilities, method="predict_proba"))
    found = await _anomalies(client, "p")
    quality = found["quality_degradation"]
    assert quality["detection_method"] == "cbpe"
    assert quality["evidence"]["estimated"] is True
    assert quality["evidence"]["estimated_accuracy"] < 0.8 < quality["evidence"]["reference_accuracy"]


@pytest.mark.parametrize("method", ["isolation_forest", "one_class_svm"])
async def test_opt_in_outliers_rise_when_rows_leave_the_reference(
    client, send, spans, storage, method
) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("sklearn")
    monitor = monitor_for(storage.engine)
    monitor.settings = monitor.settings.updated({"outlier_methods": [method], "reservoir_rows": 2000})
    rng = np.random.default_rng(9)
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    for b in range(10):  # 200 reference rows; stationary windows, then rows off the correlation
        x = rng.multivariate_normal([0, 0], cov, 50)
        if b >= 8:
            x[:25, 1] = -x[:25, 0]  # each feature's distribution is the same; their relation is not
        await send(_call(spans, f"o-{method}", x, [0] * 50))
    drift = (await client.get(f"/api/v1/models/o-{method}/drift", params={"windows": 10})).json()
    rates = [f["score"] for w in reversed(drift["windows"]) for f in w["features"] if f["side"] == "outliers"]
    assert len(rates) == 3  # 500 rows: 200 reference, three windows of 100
    assert max(rates[:2]) < 0.05 < rates[2]
    found = await _anomalies(client, f"o-{method}")
    assert found[f"{method}_outliers"]["detection_method"] == method


def _llm_span(spans: Spans, prompt: np.ndarray[Any, Any], response: np.ndarray[Any, Any]) -> Any:
    from otlp_builder import attributes

    from aither.server.drift.embeddings import encode

    span = spans.span(
        "chat gpt-test",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-test",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 5,
        },
    )
    span.attributes.extend(
        attributes(
            {sc.AITHER_EMBEDDING_PROMPT: encode(prompt), sc.AITHER_EMBEDDING_RESPONSE: encode(response)}
        )
    )
    return span


async def test_embeddings_that_move_raise_embedding_drift_on_their_side(client, send, spans, storage) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(10)
    topic = rng.standard_normal(32)
    batch = []
    for i in range(600):  # 200 reference vectors, then two windows of 200
        prompt = rng.standard_normal(32) + (0.0 if i < 400 else 0.8 * topic)  # prompts move to a new topic
        batch.append(_llm_span(spans, prompt, rng.standard_normal(32)))
    await send(*batch[:300])
    await send(*batch[300:])
    response = await client.get("/api/v1/anomalies", params={"limit": 100})
    found = {a["rule"]: a for a in response.json() if a["anomaly_type"] == "embedding_drift"}
    assert set(found) == {"prompt_embedding_drift"}
    anomaly = found["prompt_embedding_drift"]
    assert anomaly["anomaly_type"] == "embedding_drift" and anomaly["detection_method"] == "mmd"
    assert anomaly["model"] == "gpt-test" and anomaly["kind"] == "llm"
    assert anomaly["evidence"]["p_value"] < 0.01 and anomaly["evidence"]["side"] == "prompt"
    drift = (await client.get("/api/v1/models/gpt-test/drift", params={"windows": 10})).json()
    scores = [(f["feature"], f["drifted"]) for w in reversed(drift["windows"]) for f in w["features"]]
    assert sorted(scores) == [("prompt", False), ("prompt", True), ("response", False), ("response", False)]


def test_a_bad_vector_is_not_one() -> None:
    from aither.server.drift.embeddings import decode, encode

    assert decode("not base64!") is None
    assert decode("AAA=") is None  # 2 bytes: not float32s
    assert decode(encode([float("nan"), 1.0])) is None
    assert decode(encode([0.5, 1.0])) is not None
    assert list(decode(encode([0.5, 1.0]))) == [0.5, 1.0]  # type: ignore[arg-type]
