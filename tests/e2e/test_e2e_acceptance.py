"""The issue's acceptance run against the real server: the SDK with keys of each scope, wrong and
revoked keys, a replayed export and malformed bodies; afterwards every stored prediction is
accounted for, exactly once."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import aither
from aither.api import ManagementClient
from aither.schema import semconv as sc


class _Scorer:
    """A one-row model: enough for the SDK to make prediction spans."""

    def predict(self, rows: list[list[float]]) -> list[int]:
        return [int(sum(row) > 1) for row in rows]


def _sdk_predictions(base_url: str, key: str, model: str, calls: int) -> aither.Stats:
    """Wrap a model under ``key``, call it ``calls`` times, flush; the client's counts."""
    client = aither.Client(api_key=key, base_url=base_url, flush_interval=0.05)
    try:
        tracked = client.wrap(_Scorer(), name=model)
        for index in range(calls):
            tracked.predict([[index, 1.0]])
        client.flush(timeout=10)
        return client.stats()
    finally:
        client.close()


@pytest.fixture
def admin(server) -> Iterator[ManagementClient]:  # type: ignore[no-untyped-def]
    with ManagementClient(api_key=server.api_key, base_url=server.base_url) as client:
        yield client


def test_keys_of_each_scope_wrong_and_revoked_keys(server, admin) -> None:  # type: ignore[no-untyped-def]
    write = admin.api_keys.create(name="telemetry", scopes=["write"])
    read = admin.api_keys.create(name="dashboard", scopes=["read"])
    manage = admin.api_keys.create(name="ops", scopes=["admin"])
    leaked = admin.api_keys.create(name="leaked", scopes=["write"])
    admin.api_keys.revoke(key_id=leaked.id)

    sent = _sdk_predictions(server.base_url, write.secret, "scored", 5)
    assert (sent.exported, sent.failed, sent.dropped) == (5, 0, 0)
    for secret in (read.secret, manage.secret, leaked.secret, "aith_not_a_key_of_this_server_0000"):
        refused = _sdk_predictions(server.base_url, secret, "refused", 3)
        assert (refused.exported, refused.failed) == (0, 3), secret[-4:]

    with ManagementClient(api_key=read.secret, base_url=server.base_url) as reader:
        assert [p.model_name for p in reader.predictions.list(limit=100).items] == ["scored"] * 5
        assert reader.org.usage().predictions == 5
        with pytest.raises(aither.PermissionDenied):
            reader.api_keys.list()
    with ManagementClient(api_key=write.secret, base_url=server.base_url) as writer:
        assert writer.user.me().email == "admin@localhost"
        with pytest.raises(aither.PermissionDenied):
            writer.predictions.list()
    with ManagementClient(api_key=manage.secret, base_url=server.base_url) as manager:
        with pytest.raises(aither.PermissionDenied):  # admin alone can't mint a write key
            manager.api_keys.create(name="escalate", scopes=["write"])
        assert manager.api_keys.create(name="another-admin", scopes=["admin"]).scopes == ("admin",)
    with ManagementClient(api_key=leaked.secret, base_url=server.base_url) as revoked:
        with pytest.raises(aither.AuthenticationError):
            revoked.org.get()
    assert [m.name for m in admin.models.list()] == ["scored"]
    assert admin.org.usage().predictions == 5


class _Recorder(SpanExporter):
    """Keeps the finished spans, so the test can export them again (a replay)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans):  # type: ignore[no-untyped-def]
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def test_replayed_exports_and_malformed_bodies_leave_every_prediction_once(server, admin) -> None:  # type: ignore[no-untyped-def]
    recorder = _Recorder()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(recorder))
    tracer = provider.get_tracer("replay")
    for index in range(20):
        with tracer.start_as_current_span("predict churn") as span:
            span.set_attributes(
                {
                    sc.AITHER_SPAN_KIND: sc.SPAN_KIND_PREDICTION,
                    sc.ML_MODEL_NAME: "churn",
                    sc.ML_PREDICTION: f'{{"sample": [{index % 2}], "_meta": {{"rows": 1}}}}',
                }
            )
    provider.shutdown()
    exporter = OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces", headers={"Authorization": f"Bearer {server.api_key}"}
    )
    try:
        assert exporter.export(recorder.spans[:12]) is SpanExportResult.SUCCESS
        # the response was "lost": the exporter sends all of it again, with the rest
        assert exporter.export(recorder.spans) is SpanExportResult.SUCCESS
        assert exporter.export(recorder.spans[5:]) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()

    url, auth = f"{server.base_url}/v1/traces", {"Authorization": f"Bearer {server.api_key}"}
    protobuf = {**auth, "Content-Type": "application/x-protobuf"}
    bomb = gzip.compress(b"\0" * (server.settings.max_body_bytes * 4))
    refused = [
        (b"\x0a\xff\xff\xff\xff\x0f", protobuf, 400),  # truncated protobuf
        (b"not otlp at all", {**auth, "Content-Type": "application/json"}, 400),
        (b"{}", {**auth, "Content-Type": "text/plain"}, 415),
        (bomb, {**protobuf, "Content-Encoding": "gzip"}, 413),
        (b"\0" * (server.settings.max_body_bytes + 1), protobuf, 413),
        (b"", {"Content-Type": "application/x-protobuf"}, 401),
    ]
    with httpx.Client(timeout=30) as http:
        for payload, headers, status in refused:
            assert http.post(url, content=payload, headers=headers).status_code == status

    usage = admin.org.usage()
    assert (usage.spans, usage.predictions) == (20, 20)
    stored = admin.predictions.list(model="churn", limit=100).items
    assert sorted(p.span_id for p in stored) == sorted(
        format(span.context.span_id, "016x") for span in recorder.spans
    )
