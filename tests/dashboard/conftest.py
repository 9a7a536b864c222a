"""A real server with real data for the dashboard tests: a scikit-learn model wrapped by the
SDK, labels, and LLM calls through the official OpenAI client against a local fake API, all
sent over OTLP/HTTP to an :class:`EmbeddedServer` on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from aither.server import EmbeddedServer, ServerSettings

ADMIN_KEY = "aith_dashboard_admin_key_0123456789"
MODEL = "iris_classifier"


@dataclass(frozen=True)
class Seeded:
    server: EmbeddedServer
    base_url: str
    admin_key: str
    trace_id: str
    agent_trace_id: str


def start_server(home: Path) -> EmbeddedServer:
    settings = ServerSettings(
        home=home,
        database_url=f"sqlite:///{home / 'aither.db'}",
        port=0,
        init_api_key=ADMIN_KEY,
        announce=False,
        write_credentials=False,
    )
    return EmbeddedServer(settings).start()


def seed(base_url: str) -> tuple[str, str]:
    """Send predictions (two versions, one failing call), labels and LLM calls; (a prediction's
    trace, the agent's trace)."""
    import numpy as np
    import openai
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import aither
    from tests.llm.fake_openai import FakeOpenAI

    features, target = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(features, target)
    client = aither.Client(api_key=ADMIN_KEY, base_url=base_url, service_name="dashboard-test")
    try:
        v1 = client.wrap(model, name=MODEL, version="1.0", environment="test")
        v2 = client.wrap(model, name=MODEL, version="2.0", environment="test")
        for row in range(0, 12):
            v1.predict(features[row * 10 : row * 10 + 1])
            if row % 2 == 0:  # half of them get their label
                client.log_label(v1.last_trace_id, int(target[row * 10]))
        first = v1.last_trace_id
        v2.predict(features[:5])
        client.log_label(v2.last_trace_id, [int(y) for y in target[:5]])
        with pytest.raises(ValueError):
            v2.predict(np.zeros((1, 2)))  # the wrong number of features: an error span
        with FakeOpenAI() as fake:
            fake.chat(times=3)
            llm = client.wrap(
                openai.OpenAI(base_url=fake.url, api_key="sk-test", max_retries=0), name="assistant"
            )
            with client.span("answer question", kind="agent"):
                with client.span("search docs", kind="tool"):
                    pass
                for question in ("What is aither?", "And the dashboard?"):
                    llm.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
                    )
                agent_trace = client.last_trace_id()
            llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            llm.close()
        assert client.flush(timeout=30), client.stats()
    finally:
        client.close()
    assert first is not None and agent_trace is not None
    return first, agent_trace


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    server = start_server(tmp_path_factory.mktemp("dashboard"))
    try:
        trace_id, agent_trace = seed(server.base_url)
        yield Seeded(server, server.base_url, ADMIN_KEY, trace_id, agent_trace)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bearer(seeded: Seeded) -> Iterator[httpx.Client]:
    """The API as a program sees it: the admin key in ``Authorization``."""
    with httpx.Client(
        base_url=seeded.base_url, headers={"Authorization": f"Bearer {seeded.admin_key}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$AITHER_TEST_ARTIFACTS`` (kept by CI) or the test's tmp_path."""
    root = os.environ.get("AITHER_TEST_ARTIFACTS")
    path = Path(root) / "dashboard" if root else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path
