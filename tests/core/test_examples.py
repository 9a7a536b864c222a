"""The README's quickstart, run as written against a real OTLP receiver, checked against the schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from receiver import OTLPReceiver

pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parents[2]
META_KEYS = {"type", "shape", "columns", "dtypes", "rows", "truncated"}


def test_quickstart_runs_as_written_and_every_span_follows_the_schema() -> None:
    with OTLPReceiver(require_key="aith_quickstart") as receiver:
        env = {**os.environ, "AITHER_API_KEY": "aith_quickstart", "AITHER_BASE_URL": receiver.base_url}
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "quickstart.py")],
            capture_output=True,
            check=False,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert "delivered: True" in result.stdout and "ambiguous, as expected" in result.stdout
        spans = receiver.received()
    by_kind: dict[str | None, list] = {}
    for span in spans:
        by_kind.setdefault(span.kind, []).append(span)
        assert span.attributes["aither.schema.version"] == "2"
    predictions, labels, functions = by_kind["prediction"], by_kind["label"], by_kind["function"]
    assert len(predictions) == 7 and len(labels) == 4 and len(functions) == 3
    called = predictions[-1]  # tracked(X): the README's "Also works", one span running predict
    assert called.attributes["ml.method"] == "predict" and called.attributes["ml.input.rows"] == 2
    for p in predictions:
        features = json.loads(p.attributes["ml.features"])
        prediction = json.loads(p.attributes["ml.prediction"])
        assert set(features["_meta"]) == META_KEYS and set(prediction["_meta"]) == META_KEYS
        assert p.attributes["ml.input.rows"] == features["_meta"]["rows"]
    batch = next(p for p in predictions if p.attributes.get("ml.input.rows") == 20)
    meta = json.loads(batch.attributes["ml.features"])["_meta"]
    assert meta["type"] == "pandas.DataFrame" and meta["shape"] == [20, 30] and meta["truncated"] is True
    assert len(meta["columns"]) == 10 and meta["columns"][0] == "mean radius" and len(meta["dtypes"]) == 10
    assert meta["dtypes"]["mean radius"] == "float64"  # schema v2: {column: dtype}, records
    assert set(json.loads(batch.attributes["ml.features"])["sample"][0]) == set(meta["columns"])
    assert (
        batch.attributes["ml.model.version"] == "1.2.3" and batch.attributes["ml.environment"] == "production"
    )
    assert len(json.loads(batch.attributes["ml.prediction"])["sample"]) == 20
    # every label sits in its prediction's trace, under its prediction's span
    span_ids = {p.span_id: p for p in predictions}
    for label in labels:
        target = span_ids[label.attributes["aither.label.span_id"]]
        assert label.trace_id == target.trace_id and label.parent_span_id == target.span_id
        assert label.attributes["ml.model.name"] == target.attributes["ml.model.name"]
    # the tracked functions and the model they called form one trace
    outer = next(f for f in functions if f.name.endswith("predict_async"))
    inner = next(f for f in functions if f.name == "my_function")
    nested = next(p for p in predictions if p.parent_span_id == inner.span_id)
    assert inner.parent_span_id == outer.span_id and nested.trace_id == outer.trace_id
    request = next(f for f in functions if f.name == "handle_request")
    both = [p for p in predictions if p.parent_span_id == request.span_id]
    assert sorted(p.attributes["ml.model.name"] for p in both) == ["churn_model", "fraud_detector"]
    (request_label,) = [lb for lb in labels if lb.trace_id == request.trace_id]
    assert request_label.attributes["ml.model.name"] == "fraud_detector"
