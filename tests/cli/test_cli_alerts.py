"""``aither alerts``, run in-process against a real server and a real webhook receiver."""

from __future__ import annotations

import json
import os

import httpx
from alert_receivers import HookReceiver

from aither.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_alerts_channels_test_and_deliveries(cli_env, capsys) -> None:  # type: ignore[no-untyped-def]
    with HookReceiver(script=[(500, {})]) as receiver:
        with httpx.Client(
            base_url=cli_env.base_url, headers={"Authorization": f"Bearer {os.environ['AITHER_API_KEY']}"}
        ) as http:
            created = http.post(
                "/api/v1/alerts/channels",
                json={
                    "name": "cli-hook",
                    "type": "webhook",
                    "url": receiver.url,
                    "secret": "cli-secret-0123456789abcdef",
                    "min_severity": "high",
                },
            )
        assert created.status_code == 201, created.text
        channel_id = created.json()["id"]

        status, out, _ = _run(capsys, "alerts", "channels")
        assert status == 0
        assert channel_id in out and "cli-hook" in out and "webhook" in out and "high" in out
        assert "cli-secret-0123456789abcdef" not in out

        status, out, _ = _run(capsys, "alerts", "test", channel_id)
        assert (status, out.strip()) == (1, "The test notice to cli-hook failed: HTTP 500: nope")
        status, out, _ = _run(capsys, "alerts", "test", channel_id)
        assert (status, out.strip()) == (0, "Delivered a test notice to cli-hook (HTTP 200).")
        assert len(receiver.wait_for(2)) == 2

    status, out, _ = _run(capsys, "alerts", "deliveries", "--channel", channel_id)
    assert status == 0
    assert "delivered" in out and "failed" in out and "Test notice for channel cli-hook" in out
    status, out, _ = _run(capsys, "alerts", "deliveries", "--status", "failed", "--json")
    (item,) = json.loads(out)["items"]
    assert (item["channel_id"], item["http_status"], item["event"]) == (channel_id, 500, "test")
    status, _, err = _run(capsys, "alerts", "test", "chn_missing")
    assert status == 1 and "404" in err
