"""Drift end to end: a model served through ``wrap`` with sorted batches, a gradual shift in two
of twenty features, a sudden change of its class balance, and labels for part of the rows with a
rising error rate; and a stationary control model. Real SDK, real server, real SQLite.

The numbers the test relies on are the documented defaults (``docs/drift.md``): the first 1,000
sampled rows of a model version are its reference, a decision rests on 500 sampled rows, up to
100 random rows are sampled per call; labelled windows hold 200 rows.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

import aither
from aither.api import ManagementClient
from aither.server import EmbeddedServer

pytestmark = pytest.mark.slow

ROWS = 100
FEATURES = 20
SHIFTED = ("f3", "f7")


class Scorer:
    """A stand-in classifier: class 1 when the first feature is above its threshold."""

    def __init__(self) -> None:
        self.threshold = 0.0

    def predict(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return (x[:, 0] > self.threshold).astype(np.int64)


def _stream(
    client: aither.Client,
    name: str,
    batches: int,
    rng: np.random.Generator,
    *,
    shift_from: int | None = None,
    threshold_at: int | None = None,
    error_from: int | None = None,
) -> None:
    model = Scorer()
    tracked = client.wrap(model, name=name, version="1.0")
    for b in range(batches):
        x = rng.standard_normal((ROWS, FEATURES))
        if shift_from is not None and b >= shift_from:
            x[:, [3, 7]] += min(1.0, (b - shift_from + 1) / 10)  # gradual: a tenth of a sigma per call
        x = x[np.argsort(x[:, 0])]  # sorted batches: the first rows are the smallest f0
        if threshold_at is not None and b == threshold_at:
            model.threshold = 1.0  # a sudden change of class balance: 50/50 -> 84/16
        predicted = tracked.predict(x)
        trace_id = client.last_trace_id()
        assert trace_id is not None
        error = 0.05 if error_from is None or b < error_from else min(0.5, 0.05 + 0.05 * (b - error_from + 1))
        rows = rng.choice(ROWS, size=30, replace=False)  # labels arrive for 30 % of the rows
        flip = rng.random(30) < error
        truth = {int(r): int(predicted[r]) ^ int(f) for r, f in zip(rows, flip, strict=True)}
        client.log_label(trace_id, truth)
    assert client.flush(timeout=30)


def _drift_anomalies(api: ManagementClient, model: str) -> dict[str, Any]:
    return {a.rule: a for a in api.anomalies.list(since="1h", limit=200) if a.model == model}


def test_shift_class_balance_and_errors_are_reported_and_a_stationary_model_is_quiet(
    server: EmbeddedServer, api: ManagementClient
) -> None:
    client = aither.Client(api_key=server.api_key, base_url=server.base_url, flush_interval=0.05)
    try:
        rng = np.random.default_rng(7)
        _stream(client, "control", 40, rng)
        _stream(client, "fraud", 20, rng)  # reference (10 calls) and two stationary windows
        assert _drift_anomalies(api, "fraud") == {}
        _stream(client, "fraud", 30, rng, shift_from=0, threshold_at=20, error_from=5)
    finally:
        client.close()

    assert _drift_anomalies(api, "control") == {}
    # the control model's windows were judged, not skipped: 30 calls past its reference
    judged = _drift(server, "control")["windows"]
    assert len([w for w in judged if w["drifted"] == [] and len(w["features"]) == FEATURES + 1]) == 6

    found = _drift_anomalies(api, "fraud")
    assert set(found) >= {"input_drift", "output_drift", "concept_drift"}
    assert set(found) <= {"input_drift", "output_drift", "concept_drift", "quality_degradation"}
    inputs = found["input_drift"]
    assert inputs.anomaly_type is aither.AnomalyType.INPUT_DRIFT
    assert set(inputs.evidence["features"]) == set(SHIFTED), inputs.evidence["features"]
    assert inputs.version == "1.0"
    outputs = found["output_drift"]
    assert outputs.anomaly_type is aither.AnomalyType.OUTPUT_DRIFT
    assert outputs.evidence["features"] == ["prediction"]

    # within the documented rows: windows of 500 sampled rows (here 5 calls), oldest first
    windows = [
        w for w in reversed(_drift(server, "fraud")["windows"]) if w["features"][0]["side"] != "performance"
    ]
    assert len(windows) == 8  # 2 stationary, then 6 of the 30 shifted calls
    assert all(set(w["drifted"]) <= {*SHIFTED, "prediction"} for w in windows)
    assert windows[0]["drifted"] == windows[1]["drifted"] == []
    first_input = next(i for i, w in enumerate(windows) if set(SHIFTED) <= set(w["drifted"]))
    assert first_input <= 3  # within 1,000 rows of a shift that grows by 0.1 sd per 100 rows
    first_output = next(i for i, w in enumerate(windows) if "prediction" in w["drifted"])
    assert first_output == 6  # the first window after the class balance changed (call 20 of 30)
    concept = found["concept_drift"]
    assert concept.anomaly_type is aither.AnomalyType.CONCEPT_DRIFT
    assert concept.evidence["metric"] == "accuracy" and concept.evidence["estimated"] is False
    assert concept.evidence["window"] < concept.evidence["reference"] - 0.05


def _drift(server: EmbeddedServer, model: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.base_url}/api/v1/models/{model}/drift",
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_drift_scores_per_window_are_served(server: EmbeddedServer) -> None:
    client = aither.Client(api_key=server.api_key, base_url=server.base_url, flush_interval=0.05)
    try:
        _stream(client, "scored", 20, np.random.default_rng(3))
    finally:
        client.close()
    body = _drift(server, "scored")
    assert [r["source"] for r in body["references"]] == ["first_rows"]
    assert body["references"][0]["rows"] == 1000
    columns = [
        w for w in body["windows"] if w["environment"] == "" and w["features"][0]["side"] != "performance"
    ]
    labelled = [w for w in body["windows"] if w["features"][0]["side"] == "performance"]
    assert len(columns) == 2  # 1,000 rows past the reference, 500 a window
    assert len(labelled) == 2  # 600 labelled rows: 200 reference, two windows of 200
    assert labelled[0]["features"][0]["feature"] == "accuracy"
    window = columns[0]
    assert window["drifted"] == []
    features = {f["feature"]: f for f in window["features"]}
    assert set(features) == {f"f{i}" for i in range(FEATURES)} | {"prediction"}
    assert set(features["f3"]["details"]["scores"]) == {"psi", "kl", "js", "wasserstein", "ks"}
    assert set(features["prediction"]["details"]["scores"]) == {"psi", "chi2"}


def test_set_reference_from_the_sdk_and_the_cli_table(
    server: EmbeddedServer, tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pandas = pytest.importorskip("pandas")
    monkeypatch.setenv("COLUMNS", "250")
    from aither.cli import main

    rng = np.random.default_rng(11)
    train = pandas.DataFrame(
        rng.standard_normal((20_000, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)]
    )
    train = train.sort_values("f0")  # sorted: only a random draw of it is a fair reference
    answer = aither.set_reference(
        "fraud", train, version="1.0", api_key=server.api_key, base_url=server.base_url
    )
    assert answer["rows"] == 5000 and answer["source"] == "dataset" and len(answer["columns"]) == FEATURES
    client = aither.Client(api_key=server.api_key, base_url=server.base_url, flush_interval=0.05)
    try:
        _stream(client, "fraud", 5, rng, shift_from=-10)  # shifted by 1 sigma; judged at once
    finally:
        client.close()
    connection = ["--api-key", server.api_key or "", "--base-url", server.base_url]
    assert main(["drift", "fraud", *connection]) == 0
    out = capsys.readouterr().out
    assert "fraud 1.0" in out and "DRIFT" in out
    drifted_line = next(line for line in out.splitlines() if line.startswith("drifted:"))
    assert set(drifted_line.removeprefix("drifted:").replace(",", " ").split()) == set(SHIFTED)

    csv_file = tmp_path / "reference.csv"
    csv_file.write_text("a,b\n1,x\n2,y\n3,x\n")
    assert main(["drift", "other", "--reference", str(csv_file), *connection]) == 0
    assert "Reference set for other: 3 rows, 2 columns." in capsys.readouterr().out
    assert main(["drift", "other", *connection]) == 0
    assert "reference of 3 rows; no window judged yet" in capsys.readouterr().out
