from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from aither.schema import semconv as sc
from aither.server import EmbeddedServer, ServerSettings

KEY = "aith_cli_tests_admin_key_0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A real server holding a few predictions and labels of ``fraud_detector``."""
    home: Path = tmp_path_factory.mktemp("cli-server")
    settings = ServerSettings(
        home=home,
        database_url=f"sqlite:///{home / 'aither.db'}",
        port=0,
        init_api_key=KEY,
        announce=False,
        write_credentials=False,
    )
    with EmbeddedServer(settings) as running:
        provider = TracerProvider()
        exporter = OTLPSpanExporter(
            endpoint=f"{running.base_url}/v1/traces", headers={"Authorization": f"Bearer {KEY}"}
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("cli-tests")
        for index, (predicted, truth) in enumerate([(1, 1), (0, 0), (1, 0), (0, 0), (1, 1)]):
            with tracer.start_as_current_span("predict fraud_detector") as span:
                span.set_attributes(
                    {
                        sc.AITHER_SPAN_KIND: sc.SPAN_KIND_PREDICTION,
                        sc.ML_MODEL_NAME: "fraud_detector",
                        sc.ML_MODEL_VERSION: "1.2.3",
                        sc.ML_PREDICTION: json.dumps({"sample": [predicted], "_meta": {"rows": 1}}),
                    }
                )
                if index < 4:
                    with tracer.start_as_current_span("label fraud_detector") as label:
                        label.set_attributes(
                            {sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LABEL, sc.ML_LABEL: json.dumps(truth)}
                        )
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attributes(
                {
                    sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LLM,
                    sc.GEN_AI_OPERATION_NAME: "chat",
                    sc.GEN_AI_PROVIDER_NAME: "openai",
                    sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                    sc.GEN_AI_USAGE_INPUT_TOKENS: 42,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
                    sc.AITHER_COST_USD: 0.000011,
                    sc.AITHER_PII_DETECTED: True,
                    sc.AITHER_PII_INPUT_PREFIX + "email": 1,
                    sc.AITHER_INJECTION_SCORE: 0.0,
                    sc.AITHER_INJECTION_DETECTED: False,
                    sc.ENDUSER_ID: "ada",
                }
            )
        provider.shutdown()
        yield running


@pytest.fixture
def cli_env(server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch) -> EmbeddedServer:
    """The environment a user has after `aither server`: key and URL in the environment, wide terminal."""
    monkeypatch.setenv("AITHER_API_KEY", KEY)
    monkeypatch.setenv("AITHER_BASE_URL", server.base_url)
    monkeypatch.setenv("COLUMNS", "200")
    from aither._client import close_default

    close_default()
    yield server
    close_default()
