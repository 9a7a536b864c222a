"""ClickHouse's pages and trace reads, narrowed by time, answer what a read of everything answers.

The store reads a page over the last hour, then a day, then 8 days, then everything (until a
read fills the page), and a trace between its spans' first and last start; rows spread over
minutes, hours and weeks before now make every one of those steps matter. Run on the real
18.16 server and on chDB (26.x).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aither.server.storage.filters import LabelFilter, LlmCallFilter, Paging, PredictionFilter
from aither.server.storage.window import Window

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_telemetry_engines import clickhouse_url  # noqa: E402, F401 - the module's ClickHouse fixture

MINUTE = 60_000_000_000
# minutes, hours, days and weeks back: each widening step of a page finds some rows
OFFSETS = [0, 1, 2, 30, 59, 61, 90, 300, 1439, 1441, 3000, 10_000, 11_520, 11_521, 30_000, 43_000]


@pytest.fixture(params=["clickhouse", "chdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from aither.server.telemetry.clickhouse import ClickHouseStore

    if request.param == "clickhouse":
        url = request.getfixturevalue("clickhouse_url").replace("/aither", f"/p{abs(hash(tmp_path)) % 10**9}")
    else:
        pytest.importorskip("chdb", reason="chdb (ClickHouse 26.x in-process) is not installed")
        url = f"chdb://{tmp_path / 'chdb'}"
    opened = ClickHouseStore.open(url)
    yield opened
    opened.close()


def _fill(store: Any, now_ns: int) -> list[tuple[int, int, str, str]]:
    """Two predictions, an LLM call and a label per offset (some at the same time, so ties
    break by id); their spans. The (time, id, trace, model) of each prediction."""
    db = store.db
    predictions, calls, labels, spans = [], [], [], []
    out = []
    for i, offset in enumerate(OFFSETS):
        for j in range(2):
            time_ns = now_ns - offset * MINUTE - 7  # both rows of an offset at the same time
            span_id = f"{i * 2 + j + 1:016x}"
            trace_id = f"{i + 1:032x}"
            model = ("a", "b")[j]
            predictions.append(
                ("org", trace_id, span_id, i * 2 + j + 1, model, 1, '{"sample": [1]}', time_ns)
            )
            spans.append(("org", trace_id, span_id, "predict", time_ns, time_ns + 1000, "{}"))
            out.append((time_ns, i * 2 + j + 1, trace_id, model))
        call_span = f"{1000 + i:016x}"
        calls.append(
            ("org", f"{i + 1:032x}", call_span, 1000 + i, "chat", f"user-{i % 3}", now_ns - offset * MINUTE)
        )
        spans.append(
            (
                "org",
                f"{i + 1:032x}",
                call_span,
                "chat",
                now_ns - offset * MINUTE,
                now_ns - offset * MINUTE,
                "{}",
            )
        )
        label_span = f"{2000 + i:016x}"
        labels.append(
            (
                "org",
                f"{i + 1:032x}",
                label_span,
                2000 + i,
                "a",
                "1",
                now_ns - offset * MINUTE + 5,
                "pending",
                1,
                0,
            )
        )
        spans.append(
            ("org", f"{i + 1:032x}", label_span, "label", now_ns - offset * MINUTE + 5, now_ns, "{}")
        )
    # a replay stored twice: reads keep one
    store.x.insert(
        f"{db}.predictions",
        ("org_id", "trace_id", "span_id", "id", "model_name", "output_rows", "prediction", "time_ns"),
        predictions[:1],
    )
    store.x.insert(
        f"{db}.predictions",
        ("org_id", "trace_id", "span_id", "id", "model_name", "output_rows", "prediction", "time_ns"),
        predictions,
    )
    store.x.insert(
        f"{db}.llm_calls", ("org_id", "trace_id", "span_id", "id", "name", "user_id", "time_ns"), calls
    )
    store.x.insert(
        f"{db}.labels",
        (
            "org_id",
            "trace_id",
            "span_id",
            "id",
            "model_name",
            "value",
            "time_ns",
            "status",
            "rows",
            "version",
        ),
        labels,
    )
    store.x.insert(
        f"{db}.spans",
        ("org_id", "trace_id", "span_id", "name", "start_time_ns", "end_time_ns", "attributes"),
        spans[:1] + spans,
    )
    return out


def _all_pages(read: Any, limit: int) -> list[Any]:
    rows, cursor = read(Paging(limit=limit))
    out = list(rows)
    while cursor is not None:
        rows, cursor = read(Paging(limit=limit, cursor=cursor))
        out.extend(rows)
    return out


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_pages_narrowed_by_time_are_the_pages_of_everything(store: Any, limit: int) -> None:
    now_ns = time.time_ns() // MINUTE * MINUTE
    stored = _fill(store, now_ns)
    newest_first = sorted(stored, reverse=True)

    def predictions(where: PredictionFilter) -> list[tuple[int, int]]:
        rows = _all_pages(lambda page: store.list_predictions("org", where, page), limit)
        return [(row["time_ns"], row["id"]) for row in rows]

    assert predictions(PredictionFilter()) == [(t, i) for t, i, _, _ in newest_first]
    assert predictions(PredictionFilter(model="b")) == [(t, i) for t, i, _, m in newest_first if m == "b"]
    window = Window(now_ns - 2000 * MINUTE, now_ns - 60 * MINUTE)
    assert predictions(PredictionFilter(window=window)) == [
        (t, i)
        for t, i, _, _ in newest_first
        if window.since_ns <= t < window.until_ns  # type: ignore[operator]
    ]
    calls = _all_pages(lambda page: store.list_llm_calls("org", LlmCallFilter(user_id="user-1"), page), limit)
    assert [row["time_ns"] for row in calls] == [
        now_ns - offset * MINUTE for i, offset in enumerate(OFFSETS) if i % 3 == 1
    ]
    labels = _all_pages(lambda page: store.list_labels("org", LabelFilter(status="pending"), page), limit)
    assert [row["time_ns"] for row in labels] == [now_ns - offset * MINUTE + 5 for offset in OFFSETS]


def test_a_trace_is_read_whole_from_its_spans_times(store: Any) -> None:
    now_ns = time.time_ns() // MINUTE * MINUTE
    _fill(store, now_ns)
    for i, offset in ((0, 0), (7, 300), (15, 43_000)):
        trace = store.get_trace("org", f"{i + 1:032x}")
        assert [span["name"] for span in trace["spans"]] == ["predict", "predict", "chat", "label"]
        assert [row["model_name"] for row in trace["predictions"]] == ["a", "b"]  # the replay once
        assert [row["time_ns"] for row in trace["llm_calls"]] == [now_ns - offset * MINUTE]
        assert [row["span_id"] for row in trace["labels"]] == [f"{2000 + i:016x}"]
    assert store.get_trace("org", "f" * 32) is None
