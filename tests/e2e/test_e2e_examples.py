"""The examples run as written against the real server, and the server accounts for every span."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("pandas")
ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, server, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AITHER_", "OTEL_"))}
    environment.update(AITHER_HOME=str(tmp_path / "client-home"), COLUMNS="200", **env)
    if server is not None:
        environment.update(AITHER_API_KEY=server.api_key, AITHER_BASE_URL=server.base_url)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_quickstart_against_the_server(server, api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _run("quickstart.py", server, tmp_path)
    assert "delivered: True" in result.stdout
    usage = api.org.usage()
    assert (usage.predictions, usage.labels, usage.operations) == (7, 4, 3)
    exported = int(re.search(r"exported=(\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert usage.spans == exported  # every span the SDK exported is stored, once
    assert api.labels.list(status="ambiguous").items == ()
    assert api.labels.list(status="pending").items == ()
    fraud = {m.name: m for m in api.models.list()}["fraud_detector"]
    # 20 batch rows, rows 0 and 2 of predict_proba, and the request's single row
    assert fraud.labelled_rows == 23
    (version,) = api.models.metrics("fraud_detector").versions
    assert version.classification is not None
    assert version.classification.scored_rows == 23
    pipeline = api.predictions.list(model="my_pipeline").items[0]
    assert (pipeline.label, pipeline.prediction["sample"]) == (1, 0.87)
    assert {m.name for m in api.models.list()} == {"fraud_detector", "my_pipeline", "churn_model"}


def test_management_example(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = _run("management.py", server, tmp_path).stdout
    assert "organisation: default (self-hosted)" in out
    assert "signed in as admin@localhost (admin)" in out
    assert "ci-telemetry" in out and "revoked key_" in out
    assert "unknown key:" in out and "404" in out


def test_demo_example_starts_and_stops_its_own_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = _run("demo.py", None, tmp_path).stdout
    assert "Started the aither server" in out
    assert "Stopped the demo server" in out
    assert "accuracy 0.9" in out
