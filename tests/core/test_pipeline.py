"""The export pipeline against a real OTLP/HTTP receiver: delivery, the ledger, bounds, flush, exit, fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from receiver import OTLPReceiver

import aither


def test_spans_reach_a_real_receiver_with_the_key_and_the_resource(receiver: OTLPReceiver) -> None:
    client = aither.Client(api_key="aith_test", base_url=receiver.base_url, service_name="scoring-api")
    tracked = client.wrap(lambda x: x * 2, name="double", version="3")
    assert tracked(21) == 42
    assert client.flush(10) is True
    (span,) = receiver.received()
    assert receiver.requests[0]["authorization"] == "Bearer aith_test"
    assert receiver.requests[0]["content-type"] == "application/x-protobuf"
    assert span.scope == "aither" and span.name == "predict double"
    assert (
        span.resource["service.name"] == "scoring-api" and span.resource["aither.sdk.name"] == "aither-python"
    )
    assert span.attributes["ml.model.version"] == "3" and span.attributes["ml.input.rows"] == 1
    assert span.trace_id == tracked.last_trace_id
    assert client.stats() == aither.Stats(
        created=1, exported=1, dropped=0, failed=0, queued=0, queued_bytes=0, internal_errors=0
    )
    client.close()


def test_the_ledger_balances_in_every_snapshot_under_load(receiver: OTLPReceiver) -> None:
    client = aither.Client(api_key="k", base_url=receiver.base_url, flush_interval=0.01, batch_size=20)
    tracked = client.wrap(lambda x: x, name="echo")
    done = threading.Event()
    snapshots: list[aither.Stats] = []

    def watch() -> None:
        while not done.is_set():
            snapshots.append(client.stats())

    watcher = threading.Thread(target=watch)
    watcher.start()
    workers = [threading.Thread(target=lambda: [tracked(i) for i in range(300)]) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert client.flush(30)
    done.set()
    watcher.join()
    assert snapshots
    for s in snapshots:
        assert s.created == s.exported + s.dropped + s.failed + s.queued
    final = client.stats()
    assert final.created == final.exported == 900 and len(receiver.received()) == 900
    client.close()


def test_a_full_queue_drops_and_counts_and_never_blocks_the_caller() -> None:
    gate = threading.Event()
    with OTLPReceiver(hold=gate) as slow:
        client = aither.Client(api_key="k", base_url=slow.base_url, max_queue_size=3, batch_size=1)
        tracked = client.wrap(lambda x: x, name="echo")
        for i in range(10):
            assert tracked(i) == i  # returns at once though the receiver does not answer
        stats = client.stats()
        assert (stats.created, stats.queued, stats.dropped) == (10, 3, 7)
        assert client.flush(timeout=0.2) is False  # the deadline holds while the receiver hangs
        gate.set()
        assert client.flush(30) is True
        assert client.stats() == aither.Stats(10, 3, 7, 0, 0, 0, 0)
        assert len(slow.received()) == 3
        client.close()


def test_the_queue_is_bounded_in_bytes_too() -> None:
    gate = threading.Event()
    with OTLPReceiver(hold=gate) as slow:
        client = aither.Client(api_key="k", base_url=slow.base_url, max_queue_bytes=64 * 1024, batch_size=1)
        tracked = client.wrap(lambda x: x, name="echo", sample_rows=1000, sample_columns=1000)
        big = [[float(i)] * 1000 for i in range(1000)]
        for _ in range(20):
            tracked(big[:8])  # each span holds ~8,000 sampled cells
        stats = client.stats()
        assert stats.dropped > 0 and stats.queued_bytes <= 64 * 1024
        assert stats.created == 20 == stats.queued + stats.dropped
        gate.set()
        assert client.flush(30)
        client.close()


def test_a_refused_export_is_counted_as_failed() -> None:
    with OTLPReceiver(status=400) as refusing:
        client = aither.Client(api_key="k", base_url=refusing.base_url)
        client.wrap(lambda x: x, name="echo")(1)
        assert client.flush(10) is False
        assert client.stats() == aither.Stats(1, 0, 0, 1, 0, 0, 0)
        client.close()


def test_spans_after_close_are_dropped_and_counted(receiver: OTLPReceiver) -> None:
    client = aither.Client(api_key="k", base_url=receiver.base_url)
    tracked = client.wrap(lambda x: x, name="echo")
    tracked(1)
    assert client.close() is True
    assert tracked(2) == 2
    assert client.stats() == aither.Stats(2, 1, 1, 0, 0, 0, 0)


def run_script(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def test_pending_spans_are_flushed_at_exit(receiver: OTLPReceiver) -> None:
    result = run_script(
        """
        import aither
        aither.init(flush_interval=60)  # nothing would be sent before exit but for the exit flush
        tracked = aither.wrap(lambda x: x, name="echo")
        for i in range(25):
            tracked(i)
        """,
        AITHER_API_KEY="k",
        AITHER_BASE_URL=receiver.base_url,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(receiver.received()) == 25


def test_loss_at_exit_is_one_stderr_line() -> None:
    result = run_script(
        """
        import aither
        aither.init(flush_interval=60, shutdown_timeout=0.5, export_timeout=0.2)
        tracked = aither.wrap(lambda x: x, name="echo")
        for i in range(3):
            tracked(i)
        """,
        AITHER_API_KEY="k",
        AITHER_BASE_URL="http://127.0.0.1:9",  # nothing listens on the discard port
    )
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("aither:")]
    assert len(lines) == 1 and lines[0].startswith("aither: 3 of 3 spans were not delivered")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_keeps_exporting(receiver: OTLPReceiver) -> None:
    result = run_script(
        """
        import os, aither
        aither.init(flush_interval=0.05)
        tracked = aither.wrap(lambda x: x, name="echo")
        tracked("parent-before-fork")
        pid = os.fork()
        if pid == 0:
            for i in range(5):
                tracked("child")
            ok = aither.flush(10)
            stats = aither.stats()
            os._exit(0 if ok and stats.exported == 5 and stats.created == 5 else 3)
        _, status = os.waitpid(pid, 0)
        tracked("parent-after-fork")
        assert aither.flush(10)
        raise SystemExit(os.waitstatus_to_exitcode(status))
        """,
        AITHER_API_KEY="k",
        AITHER_BASE_URL=receiver.base_url,
    )
    assert result.returncode == 0, result.stderr
    samples = sorted(s.attributes["ml.features"] for s in receiver.received())
    assert sum('"child"' in s for s in samples) == 5
    assert sum('"parent-before-fork"' in s for s in samples) == 1
    assert sum('"parent-after-fork"' in s for s in samples) == 1


def test_a_batch_past_the_request_size_goes_as_several_requests(receiver: OTLPReceiver) -> None:
    np = pytest.importorskip("numpy")
    from aither.export.pipeline import MAX_REQUEST_BYTES

    client = aither.Client(api_key="k", base_url=receiver.base_url, flush_interval=30)
    wide = np.random.default_rng(0).random((1_000, 100))  # ~1.9 MB of JSON a span
    tracked = client.wrap(lambda x: wide, name="wide")
    for _ in range(8):
        tracked(1)
    assert client.flush(10)
    sizes = [int(r["content-length"]) for r in receiver.requests]
    assert len(sizes) >= 4 and max(sizes) <= MAX_REQUEST_BYTES * 1.05
    spans = receiver.received()
    assert len(spans) == 8
    assert all(len(json.loads(s.attributes["ml.prediction"])["sample"]) == 1_000 for s in spans)
    assert client.stats().exported == 8
    client.close()
