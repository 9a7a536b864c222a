"""The query commands, run in-process against a real server."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from aither.cli import build_parser, main
from aither.cli._commands import parse_time


def _run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_models(cli_env, capsys) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = _run(capsys, "models")
    assert status == 0
    assert "fraud_detector" in out and "1.2.3" in out and "classification" in out
    status, out, _ = _run(capsys, "models", "--json")
    (model,) = json.loads(out)
    assert (model["name"], model["predictions"], model["labelled_rows"]) == ("fraud_detector", 5, 4)


def test_predictions(cli_env, capsys) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = _run(capsys, "predictions", "--model", "fraud_detector", "--limit", "20")
    assert status == 0
    assert out.count("fraud_detector") == 5
    status, out, _ = _run(capsys, "predictions", "--model", "fraud_detector", "--labelled", "no", "--json")
    page = json.loads(out)
    assert len(page["items"]) == 1
    assert page["items"][0]["labelled_rows"] == 0
    status, out, _ = _run(capsys, "predictions", "--limit", "2", "--json")
    assert json.loads(out)["next_cursor"]


def test_metrics(cli_env, capsys) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = _run(capsys, "metrics", "fraud_detector")
    assert status == 0
    assert "accuracy" in out and "0.750" in out
    assert "80.0% coverage" in out
    status, out, _ = _run(capsys, "metrics", "fraud_detector", "--since", "1h", "--json")
    (version,) = json.loads(out)["versions"]
    assert version["classification"]["accuracy"] == 0.75


def test_usage_and_labels(cli_env, capsys) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = _run(capsys, "usage")
    assert status == 0
    assert "predictions" in out and "labels" in out
    status, out, _ = _run(capsys, "usage", "--json")
    usage = json.loads(out)
    assert (usage["predictions"], usage["labels"], usage["spans"], usage["llm_calls"]) == (5, 4, 10, 1)
    status, out, _ = _run(capsys, "labels", "--status", "joined", "--json")
    assert len(json.loads(out)["items"]) == 4


def test_llm_calls(cli_env, capsys) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = _run(capsys, "llm-calls")
    assert status == 0
    assert "gpt-4o-mini" in out and "42/7" in out and "PII (email)" in out
    status, out, _ = _run(capsys, "llm-calls", "--pii", "--json")
    (call,) = json.loads(out)["items"]
    assert (call["provider"], call["pii_counts"], call["injection_detected"]) == (
        "openai",
        {"input": {"email": 1}},
        False,
    )
    status, out, _ = _run(capsys, "llm-calls", "--injection")
    assert (status, out.strip()) == (0, "No LLM calls match.")


def test_llm_calls_of_a_user_and_costs_by_user(cli_env, capsys) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = _run(capsys, "llm-calls", "--user", "ada", "--json")
    (call,) = json.loads(out)["items"]
    assert (status, call["user_id"], call["request_model"]) == (0, "ada", "gpt-4o-mini")
    status, out, _ = _run(capsys, "llm-calls", "--user", "bob")
    assert (status, out.strip()) == (0, "No LLM calls match.")
    status, out, _ = _run(capsys, "costs", "--by", "user")
    assert status == 0 and "LLM cost by user" in out and "ada" in out and "0.000011" in out and "42/7" in out
    status, out, _ = _run(capsys, "costs", "--by", "service", "--json")
    (total,) = json.loads(out)
    assert (total["calls"], total["cost_usd"], total["input_tokens"]) == (1, 0.000011, 42)


def test_keys_create_list_revoke(cli_env, capsys) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = _run(capsys, "keys", "create", "ci-writer", "--scope", "write")
    assert status == 0
    secret = next(line for line in out.splitlines() if line.startswith("aith_"))
    assert "shown this once" in out
    status, out, _ = _run(capsys, "keys", "list", "--json")
    keys = {key["name"]: key for key in json.loads(out)}
    assert keys["ci-writer"]["scopes"] == ["write"]
    assert secret not in out
    status, out, _ = _run(capsys, "keys", "list")
    assert "ci-writer" in out and secret not in out
    status, out, _ = _run(capsys, "keys", "revoke", keys["ci-writer"]["id"])
    assert status == 0 and "Revoked" in out
    status, _, err = _run(capsys, "models", "--api-key", secret)
    assert status == 1
    assert "revoked" in err


def test_errors_are_one_line_and_exit_1(cli_env, capsys, server) -> None:  # type: ignore[no-untyped-def]
    status, _, err = _run(capsys, "metrics", "nobody")
    assert (status, "no predictions of model 'nobody'" in err) == (1, True)
    status, _, err = _run(capsys, "models", "--api-key", "aith_wrong_000000000000")
    assert status == 1 and "invalid API key" in err
    status, _, err = _run(capsys, "keys", "revoke", "key_missing")
    assert status == 1 and "404" in err
    status, _, err = _run(capsys, "models", "--base-url", "http://127.0.0.1:9")
    assert status == 1 and "could not reach the aither server" in err
    status, _, err = _run(capsys, "predictions", "--since", "yesterday-ish")
    assert status == 1 and "is not a time" in err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["keys", "create", "x", "--scope", "root"])


def test_relative_and_absolute_times() -> None:
    now = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
    assert parse_time("24h", now=now) == dt.datetime(2026, 1, 9, tzinfo=dt.timezone.utc)
    assert parse_time("7d", now=now) == dt.datetime(2026, 1, 3, tzinfo=dt.timezone.utc)
    assert parse_time("2026-01-02T03:04:05Z") == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert parse_time("2026-01-02") == dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    assert parse_time(None) is None
