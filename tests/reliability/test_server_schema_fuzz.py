"""Schema fuzzing of the whole API with schemathesis, against the real app in process.

Every operation of the OpenAPI document gets generated requests, valid and invalid, sent with
the admin key to the app on a real SQLite file. No response may be a 500; every status must be
one the document declares, with the declared content type, headers and body; what the schema
says is invalid must be refused. The example count is bounded so this runs in the default suite.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from aither.server import Storage, create_app
from aither.server.bootstrap import bootstrap

from . import server_fixtures as fx

client, storage, settings = fx.client, fx.storage, fx.settings

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
# bounded for the default run; FUZZ_EXAMPLES=500 for a deeper search by hand
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
# The app is built at import so schemathesis can read its schema (starting its lifespan, which
# opens a database in the settings' home: a directory of this process's own, so that two runs at
# once never share one); each test then gives it a fresh database.
_HOME = Path(tempfile.mkdtemp(prefix="aither-schema-fuzz-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
SETTINGS = fx.make_settings(_HOME, auth_failure_burst=1_000_000)
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# OTLP protobuf bodies are bytes: send what schemathesis generates for a binary string as is
schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Storage]:
    store = Storage.open(f"sqlite:///{tmp_path / 'aither.db'}")
    bootstrap(store, SETTINGS)
    APP.state.storage = store
    try:
        yield store
    finally:
        APP.state.storage = None
        store.close()


@schema.parametrize()
@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_what_the_schema_declares(case: Any, database: Storage) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {fx.ADMIN_KEY}"}, checks=CHECKS)


def test_every_api_operation_declares_the_statuses_it_can_answer() -> None:
    document = APP.openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            if path == "/healthz":
                assert declared == {"200"}
                continue
            assert {"401", "403", "429", "503"} <= declared, (method, path, declared)
    traces = document["paths"]["/v1/traces"]["post"]["responses"]
    assert {"200", "400", "401", "403", "413", "415", "429", "503"} == set(traces)
    assert set(traces["400"]["content"]) == {"application/json", "application/x-protobuf"}


async def test_what_the_schema_refuses_the_handlers_refuse_alike(client: Any) -> None:
    assert (await client.get("/api/v1/predictions", params={"cursor": ""})).status_code == 422
    assert (await client.get("/api/v1/llm-calls", params={"until": "0.5"})).status_code == 422
    same = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    empty = await client.get("/api/v1/predictions", params=same)
    assert (empty.status_code, empty.json()["items"]) == (200, [])  # an empty window, not an error
    backwards = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    assert (await client.get("/api/v1/predictions", params=backwards)).status_code == 400
    far = await client.get("/api/v1/models/m/metrics", params={"since": "2263-01-01T00:00:00Z"})
    assert far.status_code == 404  # past what a 64-bit time holds: nothing there, not a 500
    bad_json = await client.post(
        "/api/v1/users", content=b"\xff\x04", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400  # not JSON at all; a wrong shape is 422
    assert "detail" in bad_json.json()
