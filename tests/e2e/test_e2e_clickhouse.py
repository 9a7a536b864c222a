"""The SDK against the real server with ClickHouse 18.16 as its telemetry store: wrap, labels
and metrics as scikit-learn has them, through the real exporter and a real clickhouse-server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import aither
from aither.api import ManagementClient
from aither.server import EmbeddedServer, ServerSettings

np = pytest.importorskip("numpy")
sklearn_datasets = pytest.importorskip("sklearn.datasets")
pytest.importorskip("clickhouse_driver")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import clickhouse_server  # noqa: E402

KEY = "aith_e2e_clickhouse_key_0123456789ab"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    if clickhouse_server.binary() is None:
        pytest.skip("clickhouse-server is not installed (apt-get install clickhouse-server)")
    clickhouse = clickhouse_server.start()
    settings = ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        telemetry_url=clickhouse.url,
        port=0,
        init_api_key=KEY,
        announce=False,
        write_credentials=False,
    )
    try:
        with EmbeddedServer(settings) as running:
            yield running
    finally:
        clickhouse.stop()


@pytest.mark.slow
def test_wrapped_classifier_labels_and_metrics_on_clickhouse(server: EmbeddedServer) -> None:
    features, truth = sklearn_datasets.make_classification(n_samples=200, n_features=5, random_state=3)
    model = LogisticRegression(max_iter=500).fit(features[:100], truth[:100])
    sdk = aither.Client(api_key=server.api_key, base_url=server.base_url, flush_interval=0.05)
    try:
        tracked = sdk.wrap(model, name="churn", version="2", environment="production")
        batch = tracked.predict(features[100:150])
        batch_trace = tracked.last_trace_id
        sdk.log_label(batch_trace, truth[100:150].tolist())
        singles = []
        for row in range(150, 170):
            singles.append(tracked.predict(features[row : row + 1])[0])
            sdk.log_label(tracked.last_trace_id, int(truth[row]))
        assert sdk.flush(timeout=10)
        stats = sdk.stats()
        assert stats.dropped == stats.failed == 0
    finally:
        sdk.close()

    with ManagementClient(api_key=server.api_key, base_url=server.base_url) as api:
        assert api.org.usage().spans == stats.exported  # every exported span stored, once
        (version,) = api.models.metrics("churn").versions
        predicted = np.concatenate([batch, np.array(singles)])
        true = truth[100:170]
        assert (version.predictions, version.rows, version.labelled_rows) == (21, 70, 70)
        assert version.classification is not None
        assert version.classification.accuracy == pytest.approx(accuracy_score(true, predicted))
        assert version.classification.f1 == pytest.approx(f1_score(true, predicted))
        (listed,) = api.models.list()
        assert (listed.name, listed.environment, listed.labelled_rows) == ("churn", "production", 70)
        (prediction,) = api.traces.get(batch_trace).predictions
        assert [prediction.labels[i] for i in range(50)] == truth[100:150].tolist()
