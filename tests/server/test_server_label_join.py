"""The label join through ingest: rules, late predictions, ambiguity, rows, and relabels."""

from __future__ import annotations

import time

import pytest
from otlp_builder import PROTOBUF, body, ids, new_trace_id

from aither.server.auth import hash_key, key_tail
from aither.server.storage.accounts import create_key, create_organization, create_user


async def _labels(client, **params):  # type: ignore[no-untyped-def]
    return (await client.get("/api/v1/labels", params=params)).json()["items"]


async def _prediction(client, span_id: str):  # type: ignore[no-untyped-def]
    items = (await client.get("/api/v1/predictions", params={"limit": 1000})).json()["items"]
    return next(p for p in items if p["span_id"] == span_id)


async def test_batch_labels_pair_row_by_row(client, send, spans) -> None:
    prediction = spans.prediction("fraud", [1, 0, 1, 1])
    trace_id, span_id = ids(prediction)
    await send(prediction, spans.label(trace_id, [1, 1, 0, 1], model="fraud", target=span_id))
    (label,) = await _labels(client)
    assert (label["status"], label["join_rule"], label["prediction_span_id"], label["rows"]) == (
        "joined",
        "span_id",
        span_id,
        4,
    )
    stored = await _prediction(client, span_id)
    assert stored["labels"] == {"0": 1, "1": 1, "2": 0, "3": 1}
    assert stored["labelled_rows"] == 4


async def test_label_before_its_prediction_is_joined_when_it_arrives(client, send, spans) -> None:
    prediction = spans.prediction("fraud", [0, 1])
    trace_id, span_id = ids(prediction)
    await send(spans.label(trace_id, {"not": "a list"}, batch=False))  # no model, no span: waits
    await send(spans.label(trace_id, [0, 0], model="fraud"))
    pending = await _labels(client)
    assert [label["status"] for label in pending] == ["pending", "pending"]
    await send(prediction)
    joined = await _labels(client)
    statuses = sorted((label["status"], label["join_rule"]) for label in joined)
    # the batch label pairs with the rows; the single label does not fit a 2-row prediction
    assert statuses == [("invalid", "only"), ("joined", "model")]
    assert (await _prediction(client, span_id))["labels"] == {"0": 0, "1": 0}


async def test_two_models_in_one_trace_need_the_model_name(client, send, spans) -> None:
    trace_id = new_trace_id()
    fraud = spans.prediction("fraud", [1], trace_id=trace_id)
    churn = spans.prediction("churn", [0], trace_id=trace_id)
    await send(fraud, churn)
    await send(spans.label(trace_id, 1))  # names nothing: never guessed
    await send(spans.label(trace_id, 0, model="churn"))
    by_status = {label["status"]: label for label in await _labels(client)}
    assert by_status["ambiguous"]["prediction_span_id"] is None
    assert "pass model_name" in by_status["ambiguous"]["message"]
    assert by_status["joined"]["prediction_span_id"] == ids(churn)[1]
    assert (await _prediction(client, ids(fraud)[1]))["labelled_rows"] == 0
    metrics = (await client.get("/api/v1/models/fraud/metrics")).json()
    assert metrics["unattributed_labels"]["ambiguous"] == 1
    assert (await _labels(client, status="ambiguous"))[0]["trace_id"] == trace_id


async def test_a_second_prediction_makes_an_unnamed_label_ambiguous(client, send, spans) -> None:
    trace_id = new_trace_id()
    first = spans.prediction("fraud", [1], trace_id=trace_id)
    await send(first, spans.label(trace_id, 1))
    assert (await _labels(client))[0]["status"] == "joined"
    await send(spans.prediction("churn", [0], trace_id=trace_id))
    (label,) = await _labels(client)
    assert (label["status"], label["prediction_span_id"]) == ("ambiguous", None)
    assert (await _prediction(client, ids(first)[1]))["labelled_rows"] == 0


async def test_row_indices_label_some_rows(client, send, spans) -> None:
    prediction = spans.prediction("fraud", [0, 1, 0, 1, 1])
    trace_id, span_id = ids(prediction)
    await send(prediction, spans.label(trace_id, [1, 0, 1], row_indices=[4, 0, 9]))
    (label,) = await _labels(client)
    assert (label["status"], label["rows"], label["row_indices"]) == ("joined", 2, [4, 0, 9])
    assert "past the prediction's 5 rows" in label["message"]
    assert (await _prediction(client, span_id))["labels"] == {"0": 0, "4": 1}


async def test_a_newer_label_replaces_an_older_one_for_the_same_row(client, send, spans) -> None:
    prediction = spans.prediction("fraud", [1, 1])
    trace_id, span_id = ids(prediction)
    base = spans.now_ns
    newer = spans.label(trace_id, [0], row_indices=[1], start_ns=base + 5_000_000_000)
    older = spans.label(trace_id, [1, 1], start_ns=base + 1_000_000_000)
    await send(prediction, newer)
    await send(older)  # arrives last, but is older: keeps row 0 only
    assert (await _prediction(client, span_id))["labels"] == {"0": 1, "1": 0}
    metrics = (await client.get("/api/v1/models/fraud/metrics")).json()["versions"][0]
    assert metrics["labelled_rows"] == 2
    assert metrics["classification"]["accuracy"] == 0.5


async def test_single_prediction_and_single_label(client, send, spans) -> None:
    prediction = spans.prediction("scorer", 0.87, method="log_prediction")
    trace_id, span_id = ids(prediction)
    await send(prediction, spans.label(trace_id, 1))
    stored = await _prediction(client, span_id)
    assert (stored["output_rows"], stored["label"], stored["labels"]) == (1, 1, {"0": 1})
    version = (await client.get("/api/v1/models/scorer/metrics")).json()["versions"][0]
    assert version["task"] == "regression"
    assert version["regression"]["mae"] == pytest.approx(0.13)


async def test_labels_of_another_organisation_never_join(client, send, spans, storage) -> None:
    """A label naming a trace id that only another organisation holds stays pending."""
    secret = "aith_other_org_key_0123456789abcdef"

    def other_org(connection):  # type: ignore[no-untyped-def]
        org = create_organization(connection, "other", "self-hosted", time.time_ns())
        user = create_user(connection, org["id"], email="o@x", name="o", role="admin", now_ns=time.time_ns())
        create_key(
            connection,
            org_id=org["id"],
            user_id=user["id"],
            name="k",
            key_hash=hash_key(secret),
            tail=key_tail(secret),
            scopes=frozenset({"read", "write", "admin"}),
            now_ns=time.time_ns(),
        )

    storage.writer.run(other_org)
    prediction = spans.prediction("fraud", [1])
    trace_id, _ = ids(prediction)
    await send(prediction)
    response = await client.post(
        "/v1/traces",
        content=body(spans.label(trace_id, 1)),
        headers={**PROTOBUF, "Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200
    other_labels = (await client.get("/api/v1/labels", headers={"Authorization": f"Bearer {secret}"})).json()
    assert [label["status"] for label in other_labels["items"]] == ["pending"]
    assert await _labels(client) == []
