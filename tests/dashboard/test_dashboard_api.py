"""The dashboard's read endpoints against a real server with data sent through the SDK: the
summaries and series add up to what the query API returns."""

from __future__ import annotations

import datetime as dt

import httpx

from aither.server.routes.schemas import to_ns

from .conftest import MODEL, Seeded


def test_overview_agrees_with_the_query_api(seeded: Seeded, bearer: httpx.Client) -> None:
    overview = bearer.get("/api/v1/dashboard/overview", params={"buckets": 12}).json()
    models = {(m["name"], m["version"]): m for m in bearer.get("/api/v1/models").json()}
    assert {(m["name"], m["version"]) for m in overview["models"]} == set(models)
    for summary in overview["models"]:
        listed = models[(summary["name"], summary["version"])]
        assert summary["predictions"] == listed["predictions"]
        assert summary["errors"] == listed["errors"]
        assert len(summary["series"]) == 12
        assert sum(point["count"] for point in summary["series"]) == listed["predictions"]
        assert sum(point["errors"] for point in summary["series"]) == listed["errors"]
        assert summary["latency_p50_ms"] <= summary["latency_p99_ms"]
    metrics = bearer.get(f"/api/v1/models/{MODEL}/metrics").json()
    for version in metrics["versions"]:
        summary = next(m for m in overview["models"] if m["version"] == version["version"])
        # read from the rollups' log histogram (buckets 2**0.5 wide, the rank's bucket): with a few
        # rows the p99 is the slowest row's bucket, next to the interpolated exact p99
        exact = version["latency_ms"]["p99"]
        assert exact / 2 <= summary["latency_p99_ms"] <= exact * 2
        assert 0 < summary["latency_p50_ms"] <= summary["latency_p99_ms"]
    calls = bearer.get("/api/v1/llm-calls").json()["items"]
    (llm,) = overview["llm"]
    assert llm["calls"] == len(calls) == 3
    assert llm["input_tokens"] == sum(c["input_tokens"] for c in calls)
    assert llm["output_tokens"] == sum(c["output_tokens"] for c in calls)
    assert llm["provider"] == "openai" and llm["model"] == calls[0]["response_model"]
    assert sum(point["count"] for point in llm["series"]) == 3
    window = {"since": overview["since"], "until": overview["until"], "buckets": 12}
    just_llm = bearer.get("/api/v1/dashboard/overview", params={**window, "only": "llm"}).json()
    assert just_llm["models"] == [] and just_llm["llm"] == overview["llm"]
    just_models = bearer.get("/api/v1/dashboard/overview", params={**window, "only": "models"}).json()
    assert just_models["llm"] == [] and just_models["models"] == overview["models"]


def test_model_series_counts_predictions_and_labelled_rows(seeded: Seeded, bearer: httpx.Client) -> None:
    series = bearer.get("/api/v1/dashboard/series", params={"model": MODEL, "buckets": 30}).json()
    models = [m for m in bearer.get("/api/v1/models").json() if m["name"] == MODEL]
    points = series["points"]
    assert len(points) == 30 and series["source"] == "predictions"
    assert sum(p["count"] for p in points) == sum(m["predictions"] for m in models)
    labelled = sum(p["labelled_rows"] or 0 for p in points)
    assert labelled == sum(m["labelled_rows"] for m in models) == 6 + 5
    assert 0 < sum(p["correct_rows"] or 0 for p in points) <= labelled
    one = bearer.get("/api/v1/dashboard/series", params={"model": MODEL, "version": "2.0"}).json()
    assert sum(p["count"] for p in one["points"]) == 2 and sum(p["errors"] for p in one["points"]) == 1
    llm = bearer.get("/api/v1/dashboard/series", params={"source": "llm"}).json()
    assert sum(p["count"] for p in llm["points"]) == 3
    assert sum(p["input_tokens"] or 0 for p in llm["points"]) == 36


def test_series_window_is_validated(seeded: Seeded, bearer: httpx.Client) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    later = (now + dt.timedelta(hours=1)).isoformat()
    assert (
        bearer.get("/api/v1/dashboard/series", params={"since": later, "until": now.isoformat()}).status_code
        == 400
    )
    assert bearer.get("/api/v1/dashboard/overview", params={"buckets": 0}).status_code == 422
    assert bearer.get("/api/v1/dashboard/series", params={"source": "nope"}).status_code == 422
    empty = bearer.get(
        "/api/v1/dashboard/overview",
        params={"since": "2001-01-01T00:00:00Z", "until": "2001-01-02T00:00:00Z"},
    ).json()
    assert empty["models"] == [] and empty["llm"] == []
    assert httpx.get(f"{seeded.base_url}/api/v1/dashboard/overview").status_code == 401


def test_latest_is_the_newest_data(seeded: Seeded, bearer: httpx.Client) -> None:
    latest = bearer.get("/api/v1/dashboard/latest").json()
    newest = bearer.get("/api/v1/predictions", params={"limit": 1}).json()["items"][0]
    # the API's times have microseconds; the stored ns are finer
    assert latest["predictions_ns"] // 1000 == to_ns(dt.datetime.fromisoformat(newest["time"])) // 1000
    assert latest["llm_calls_ns"] is not None and latest["spans_ns"] >= latest["predictions_ns"]
    assert latest["version"] == f"{latest['spans_ns']}.{latest['predictions_ns']}.{latest['llm_calls_ns']}"
