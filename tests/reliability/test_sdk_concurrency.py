"""Concurrency: threads, asyncio tasks (wrapped coroutine functions are awaited inside their
span), fork. Every span goes through the real exporter to a real receiver; the ledger balances."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from receiver import OTLPReceiver

import aither
from aither.testing import SpanCapture


def balanced(stats: aither.Stats) -> bool:
    return stats.created == stats.exported + stats.dropped + stats.failed + stats.queued


# -- asyncio --------------------------------------------------------------------------------------
class AsyncModel:
    """A model whose prediction is a coroutine, as an async inference client's is."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def predict(self, x: list[int]) -> list[int]:
        self.entered.set()
        await self.gate.wait()
        return [v * 2 for v in x]


async def test_a_wrapped_async_method_is_traced_around_the_awaited_call(aither_capture: SpanCapture) -> None:
    model = AsyncModel()
    tracked = aither_capture.client.wrap(model, name="async-doubler")
    task = asyncio.create_task(tracked.predict([1, 2, 3]))
    await asyncio.wait_for(model.entered.wait(), 10)  # the model is running, held at the gate
    assert not task.done()
    assert aither_capture.client.stats().created == 0  # the span is still open
    model.gate.set()
    assert await task == [2, 4, 6]
    (span,) = aither_capture.spans("prediction")
    assert span.name == "predict async-doubler" and span.status == "UNSET"
    assert span.attributes["ml.method"] == "predict"
    assert span.attributes["ml.prediction"]["sample"] == [2, 4, 6]
    assert span.attributes["ml.output.rows"] == 3 and span.attributes["ml.input.rows"] == 3


async def test_a_wrapped_async_function_records_the_awaited_exception(aither_capture: SpanCapture) -> None:
    async def score(x: int) -> int:
        await asyncio.sleep(0)
        raise ValueError(f"bad input {x}")

    tracked = aither_capture.client.wrap(score, name="scorer")
    with pytest.raises(ValueError, match="bad input 3"):
        await tracked(3)
    (span,) = aither_capture.spans("prediction")
    assert span.status == "ERROR" and "ml.prediction" not in span.attributes
    assert [e["name"] for e in span.events] == ["exception"]
    assert span.events[0]["attributes"]["exception.type"] == "ValueError"


async def test_an_object_with_an_async_call_is_awaited_inside_its_span(aither_capture: SpanCapture) -> None:
    class Endpoint:
        async def __call__(self, prompt: str) -> str:
            await asyncio.sleep(0)
            return prompt.upper()

    tracked = aither_capture.client.wrap(Endpoint(), name="endpoint")
    assert await tracked("hello") == "HELLO"
    (span,) = aither_capture.spans("prediction")
    assert span.attributes["ml.prediction"]["sample"] == "HELLO"
    assert span.trace_id == tracked.last_trace_id  # awaited in this task: its last trace


async def test_spans_opened_inside_an_awaited_model_nest_under_its_span(aither_capture: SpanCapture) -> None:
    client = aither_capture.client

    @client.track
    async def fetch_features(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    async def model(x: int) -> int:
        return await fetch_features(x)

    assert await client.wrap(model, name="m")(1) == 2
    spans = {s.kind: s for s in aither_capture.spans()}
    assert spans["function"].parent_span_id == spans["prediction"].span_id


async def test_many_tasks_each_get_their_own_span_and_the_ledger_balances(receiver: OTLPReceiver) -> None:
    client = aither.Client(api_key="k", base_url=receiver.base_url, flush_interval=0.05, batch_size=64)

    async def model(x: int) -> int:
        await asyncio.sleep(0)
        return x * 10

    tracked = client.wrap(model, name="async-many")
    results = await asyncio.gather(*(tracked(i) for i in range(300)))
    assert results == [i * 10 for i in range(300)]
    assert client.flush(20) is True
    predictions = sorted(json.loads(s.attributes["ml.prediction"])["sample"] for s in receiver.received())
    assert predictions == [i * 10 for i in range(300)]
    stats = client.stats()
    assert stats.created == stats.exported == 300 and balanced(stats)
    client.close()


# -- threads --------------------------------------------------------------------------------------
def test_threads_wrapping_calls_at_once_keep_the_ledger_exact(receiver: OTLPReceiver) -> None:
    client = aither.Client(
        api_key="k", base_url=receiver.base_url, flush_interval=0.01, batch_size=50, max_queue_size=200
    )
    tracked = client.wrap(lambda x: x + 1, name="threaded")
    start = threading.Barrier(8)
    snapshots: list[aither.Stats] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait(10)
            for i in range(250):
                assert tracked(i) == i + 1
                if i % 50 == 0:
                    snapshots.append(client.stats())
        except BaseException as exc:  # surfaced below: a thread's failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and not any(t.is_alive() for t in threads)
    client.flush(20)
    stats = client.stats()
    assert stats.created == 2000 and stats.queued == 0 and stats.failed == 0
    assert stats.exported + stats.dropped == 2000  # a bounded queue may drop, never lose count
    assert len(receiver.received()) == stats.exported
    assert all(balanced(s) for s in snapshots)
    client.close()


# -- fork -----------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (posix)")
def test_a_child_forked_while_threads_export_keeps_exporting(receiver: OTLPReceiver) -> None:
    script = textwrap.dedent(
        """
        import os, threading, aither
        client = aither.Client(flush_interval=0.01, batch_size=10)
        tracked = client.wrap(lambda x: x, name="forked")
        stop = threading.Event()

        def busy():
            while not stop.is_set():
                tracked("parent-thread")

        workers = [threading.Thread(target=busy) for _ in range(2)]
        for w in workers:
            w.start()
        pid = os.fork()
        if pid == 0:  # only this thread exists in the child; its runtime starts a fresh ledger
            for _ in range(20):
                tracked("child")
            ok = client.flush(10)
            s = client.stats()
            os._exit(0 if ok and s.created == s.exported == 20 else 3)
        stop.set()
        for w in workers:
            w.join(10)
        _, status = os.waitpid(pid, 0)
        assert client.flush(10)
        s = client.stats()
        assert s.created == s.exported + s.dropped and s.queued == 0 and s.failed == 0
        raise SystemExit(os.waitstatus_to_exitcode(status))
        """
    )
    env = {
        **os.environ,
        "AITHER_API_KEY": "k",
        "AITHER_BASE_URL": receiver.base_url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    samples: list[Any] = [s.attributes["ml.features"] for s in receiver.received()]
    assert sum('"child"' in s for s in samples) == 20
    assert sum('"parent-thread"' in s for s in samples) > 0
