"""Recorded LLM calls, attributed to users and sessions, through the real exporter to the real
server: stored with user, session and service, filtered and totalled (cost per user)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import aither

pytest.importorskip("genai_prices")


@pytest.fixture
def client(server) -> Iterator[aither.Client]:  # type: ignore[no-untyped-def]
    sdk = aither.Client(
        api_key=server.api_key, base_url=server.base_url, flush_interval=0.05, service_name="support-bot"
    )
    yield sdk
    sdk.close()


def test_cost_per_user_of_recorded_calls(client, api) -> None:  # type: ignore[no-untyped-def]
    with aither.context(user_id="ada", session_id="s-1"):
        client.log_llm_call(model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=100, latency_ms=120)
        client.log_llm_call(model="command-r", provider="cohere", cost_usd=0.5, service="gateway")
    client.log_llm_call(
        model="gpt-4o-mini", user_id="bob", errors=["timeout"], prompt_tokens=10, completion_tokens=0
    )
    assert client.flush(timeout=10)
    ada = api.llm_calls.list(user_id="ada").items
    assert sorted((c.request_model, c.session_id, c.service) for c in ada) == [
        ("command-r", "s-1", "gateway"),
        ("gpt-4o-mini", "s-1", "support-bot"),
    ]
    (failed,) = api.llm_calls.list(user_id="bob").items
    assert failed.status == "error"
    by_user = {t.key: t for t in api.llm_calls.totals(group_by="user")}
    assert set(by_user) == {"ada", "bob"}
    assert by_user["ada"].calls == 2 and by_user["ada"].cost_usd == pytest.approx(0.5 + 0.00021)
    assert (by_user["bob"].calls, by_user["bob"].errors, by_user["bob"].input_tokens) == (1, 1, 10)
    by_service = {t.key: t.calls for t in api.llm_calls.totals(group_by="service")}
    assert by_service == {"support-bot": 2, "gateway": 1}
