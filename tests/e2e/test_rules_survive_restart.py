"""Rules changed through the API outlast a restart of a real server on the same SQLite file."""

from __future__ import annotations

from pathlib import Path

import httpx

from aither.server import EmbeddedServer, ServerSettings

KEY = "aith_e2e_admin_key_0123456789abcdef"


def _settings(home: Path, rules: Path) -> ServerSettings:
    return ServerSettings(
        home=home,
        database_url=f"sqlite:///{home / 'aither.db'}",
        port=0,
        init_api_key=KEY,
        announce=False,
        write_credentials=False,
        rules_path=rules,
    )


def _rules(server: EmbeddedServer) -> dict[str, object]:
    response = httpx.get(f"{server.base_url}/api/v1/rules", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_rules_put_through_the_api_survive_a_restart(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text("latency_threshold_ms = 3000\n", encoding="utf-8")
    with EmbeddedServer(_settings(tmp_path, rules_file)) as server:
        changed = httpx.put(
            f"{server.base_url}/api/v1/rules",
            json={"cost_threshold_usd": 0.01, "rules": {"pii_detected": {"enabled": False}}},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert changed.status_code == 200, changed.text
    # the file stays the base: a change to it shows, under the API's changes
    rules_file.write_text("latency_threshold_ms = 4000\n", encoding="utf-8")
    with EmbeddedServer(_settings(tmp_path, rules_file)) as server:
        rules = _rules(server)
    assert (rules["cost_threshold_usd"], rules["latency_threshold_ms"]) == (0.01, 4000)
    by_name = {rule["name"]: rule for rule in rules["rules"]}  # type: ignore[attr-defined]
    assert by_name["pii_detected"]["enabled"] is False
    assert by_name["prompt_injection"]["enabled"] is True
