"""SDK → an OpenTelemetry collector → ``aither server``: the collector batches and retries.

The collector is Rotel (the ``rotel`` package on PyPI ships its ``rotel-agent`` binary; it is in
the ``collector`` extra): an OTLP receiver (HTTP and gRPC in) and an OTLP exporter (HTTP out,
gzip), with a batch processor and retries with backoff, the same pipeline an OpenTelemetry
Collector with ``otlp`` receiver, ``batch`` processor and ``otlphttp`` exporter runs
(docs/server.md has that Collector's config). The aither SDK sends to the collector with
``otlp_endpoint=`` and no aither key; the collector adds the key.

Stopping the collector (SIGTERM) drains its batches and exporter queue into the server, so the
tests stop it, then assert: no sleeps, every wait has a deadline.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from watched import WatchedProcess

import aither
from aither.api import ManagementClient
from aither.server import EmbeddedServer

rotel = pytest.importorskip("rotel", reason="the collector extra (rotel) is not installed")
np = pytest.importorskip("numpy")
sklearn_linear = pytest.importorskip("sklearn.linear_model")

BINARY = Path(rotel.__file__).with_name("rotel-agent")
READY = "Starting Rotel."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Collector:
    """A running rotel-agent forwarding OTLP to ``target_url``; ``http_port`` receives OTLP/HTTP."""

    def __init__(self, tmp_path: Path, target_url: str, api_key: str) -> None:
        if not os.access(BINARY, os.X_OK):
            pytest.fail(f"{BINARY} is not executable")
        self.http_port = _free_port()
        args = [
            str(BINARY),
            "start",
            f"--otlp-http-endpoint=127.0.0.1:{self.http_port}",
            f"--otlp-grpc-endpoint=127.0.0.1:{_free_port()}",
            f"--pid-file={tmp_path / 'rotel.pid'}",
            f"--log-file={tmp_path / 'rotel.log'}",
            "--exporter=otlp",
            f"--otlp-exporter-endpoint={target_url}",
            "--otlp-exporter-protocol=http",
            "--otlp-exporter-compression=gzip",
            f"--otlp-exporter-custom-headers=Authorization=Bearer {api_key}",
            # batch up to 512 spans or 200 ms (Rotel drops a request it would have to split into
            # too many batches: keep this above the SDK's batch_size, 100); retry from 100 ms up
            # to 1 s apart for a minute
            "--traces-batch-max-size=512",
            "--batch-timeout=200ms",
            "--otlp-exporter-retry-initial-backoff=100ms",
            "--otlp-exporter-retry-max-backoff=1s",
            "--otlp-exporter-retry-max-elapsed-time=60s",
        ]
        self.process = WatchedProcess(args, ready=READY, env={"PATH": os.environ.get("PATH", "")})
        try:
            # Rotel logs this before its listeners are bound; the SDK's exporter retries a
            # refused connection within its export, so the first export still lands
            self.process.wait_ready(30)
        except BaseException:
            self.process.stop()
            raise

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/traces"

    def stop(self) -> None:
        """SIGTERM: the collector exports what it holds, then exits."""
        code = self.process.stop(timeout=60)
        assert code == 0, self.process.output()[-3000:]


@pytest.fixture
def collector(server: EmbeddedServer, tmp_path: Path) -> Iterator[Collector]:
    assert server.api_key is not None
    running = Collector(tmp_path, server.base_url, server.api_key)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    features = rng.normal(size=(400, 4))
    target = (features[:, 0] + features[:, 1] > 0).astype(int)
    return sklearn_linear.LogisticRegression().fit(features, target), features, target


def _serve(sdk: aither.Client, fitted, features, target) -> int:  # type: ignore[no-untyped-def]
    """120 one-row predictions through ``wrap``, every other one labelled; the spans made."""
    tracked = sdk.wrap(fitted, name="churn", version="2")
    for row in range(120):
        tracked.predict(features[row : row + 1])
        if row % 2 == 0:
            sdk.log_label(tracked.last_trace_id, int(target[row]))
    assert sdk.flush(timeout=30)
    stats = sdk.stats()
    assert (stats.dropped, stats.failed, stats.queued) == (0, 0, 0)
    return stats.exported


def test_sdk_through_the_collector_to_the_server(collector: Collector, server, api, model) -> None:  # type: ignore[no-untyped-def]
    fitted, features, target = model
    sdk = aither.Client(otlp_endpoint=collector.endpoint, service_name="behind-rotel", flush_interval=0.05)
    try:
        exported = _serve(sdk, fitted, features, target)
    finally:
        sdk.close()
    collector.stop()  # drains the collector's batches into the server

    assert exported == 180
    usage = api.org.usage()
    log = collector.process.output()
    assert (usage.spans, usage.predictions, usage.labels) == (180, 120, 60), log[-3000:]
    (version,) = api.models.metrics("churn").versions
    assert (version.version, version.predictions, version.labelled_rows) == ("2", 120, 60)
    expected = (fitted.predict(features[:120:2]) == target[:120:2]).mean()
    assert version.classification is not None
    assert version.classification.accuracy == pytest.approx(expected)


def test_the_collector_retries_until_the_server_is_up(tmp_path: Path, model) -> None:  # type: ignore[no-untyped-def]
    """The server is down while the SDK sends: the SDK's export succeeds (the collector took the
    spans), the collector retries, and every span is stored once the server starts."""
    from aither.server import ServerSettings

    fitted, features, target = model
    port = _free_port()
    key = "aith_rotel_retry_key_0123456789abcdef"
    settings = ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        port=port,
        init_api_key=key,
        announce=False,
        write_credentials=False,
    )
    running = Collector(tmp_path, settings.base_url, key)
    try:
        sdk = aither.Client(otlp_endpoint=running.endpoint, flush_interval=0.05)
        try:
            exported = _serve(sdk, fitted, features, target)
        finally:
            sdk.close()
        assert exported == 180
        running.process.wait_for("will retry")  # the collector met the closed port
        with EmbeddedServer(replace(settings)) as server:
            running.stop()  # the server is up: the collector's retries now land, then it drains
            with ManagementClient(api_key=key, base_url=server.base_url) as api:
                usage = api.org.usage()
                log = running.process.output()
                assert (usage.spans, usage.predictions, usage.labels) == (180, 120, 60), log[-3000:]
    finally:
        if running.process.process.poll() is None:
            running.process.stop()
