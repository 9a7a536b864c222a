"""Channel configuration from the rules file, the backoff schedule, and Retry-After parsing."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest

from aither.schema.vocabulary import Severity
from aither.server.alerts.config import PAGERDUTY_URL, ChannelConfig, parse_channels
from aither.server.alerts.dispatch import MAX_BACKOFF_S, backoff_delay
from aither.server.alerts.send import MAX_RETRY_AFTER_S, retry_after

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the detection code parses the file

RULES = """
[alerts]
something_detection_owns = true

[[alerts.channels]]
name = "ops"
type = "webhook"
url = "https://hooks.example.com/aither"
secret = "a long random string"
headers = { "X-Team" = "ml" }
min_severity = "high"
rules = ["pii_detected", "latency_spike"]

[[alerts.channels]]
name = "team"
type = "slack"
url = "https://hooks.slack.com/services/T0/B0/XYZ"
anomaly_types = ["security_threat"]
enabled = false

[[alerts.channels]]
name = "pager"
type = "pagerduty"
routing_key = "R0UTINGKEY"
min_severity = "critical"
max_attempts = 8
backoff_s = 5
timeout_s = 3.5

[[alerts.channels]]
name = "mail"
type = "email"
host = "smtp.example.com"
security = "ssl"
username = "aither"
password = "hunter2"
from = "aither@example.com"
to = "oncall@example.com"
"""


def test_the_rules_file_example_parses_whole() -> None:
    channels = {c.name: c for c in parse_channels(tomllib.loads(RULES)["alerts"])}
    assert channels["ops"] == ChannelConfig(
        name="ops",
        kind="webhook",
        settings={
            "url": "https://hooks.example.com/aither",
            "secret": "a long random string",
            "headers": {"X-Team": "ml"},
        },
        min_severity=Severity.HIGH,
        rules=frozenset({"pii_detected", "latency_spike"}),
        id="file:ops",
        source="file",
    )
    assert (channels["team"].enabled, channels["team"].anomaly_types) == (
        False,
        frozenset({"security_threat"}),
    )
    pager = channels["pager"]
    assert pager.settings == {"routing_key": "R0UTINGKEY", "url": PAGERDUTY_URL, "source": "aither"}
    assert (pager.max_attempts, pager.backoff_s, pager.timeout_s) == (8, 5.0, 3.5)
    assert channels["mail"].settings == {
        "host": "smtp.example.com",
        "port": 465,  # the port follows security when not given
        "security": "ssl",
        "username": "aither",
        "password": "hunter2",
        "from": "aither@example.com",
        "to": ["oncall@example.com"],
    }
    assert channels["mail"].to_mapping(masked=True)["password"] == "****"
    assert parse_channels({}) == []


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"channels": {"name": "x"}}, "alerts.channels must be an array of tables"),
        ({"channels": ["x"]}, "alerts.channels[0] must be a table"),
        ({"channels": [{"type": "slack"}]}, "alerts.channels[0]: name is required"),
        ({"channels": [{"name": "a", "type": "slack", "url": "https://h"}] * 2}, "name 'a' is used twice"),
        (
            {"channels": [{"name": "a", "type": "slack", "url": "https://h", "id": "x"}]},
            "id is not a rules-file key",
        ),
        (
            {"channels": [{"name": "a", "type": "slack", "url": "https://h", "rules": "pii"}]},
            "rules must be a list",
        ),
        (
            {"channels": [{"name": "a", "type": "slack", "url": "https://h", "enabled": "yes"}]},
            "enabled must be true",
        ),
        (
            {"channels": [{"name": "a", "type": "slack", "url": "https://h", "timeout_s": True}]},
            "timeout_s must be a",
        ),
        (
            {"channels": [{"name": "a", "type": "webhook", "url": "https://h", "secret": 5}]},
            "secret has the wrong type",
        ),
        (
            {
                "channels": [
                    {"name": "a", "type": "webhook", "url": "https://h", "secret": "s", "headers": {"a": 1}}
                ]
            },
            "headers must be a table of strings",
        ),
        (
            {
                "channels": [
                    {"name": "m", "type": "email", "host": "h", "from": "a@b", "to": "c@d", "security": "tls"}
                ]
            },
            "alert channel 'm': security must be one of starttls, ssl, none",
        ),
        (
            {
                "channels": [
                    {"name": "m", "type": "email", "host": "h", "from": "a@b", "to": "c@d", "password": "p"}
                ]
            },
            "password is set but username is not",
        ),
        ({"channels": [{"name": "p", "type": "pagerduty"}]}, "alert channel 'p': routing_key is required"),
    ],
)
def test_a_bad_rules_file_names_the_field(alerts: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_channels(alerts)
    assert message in str(caught.value)


def test_backoff_doubles_with_jitter_up_to_a_cap_and_never_undercuts_retry_after() -> None:
    for failures, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (12, MAX_BACKOFF_S)):
        delays = [backoff_delay(failures, 2.0) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1  # jittered
    assert backoff_delay(1, 0.01, retry_after_s=30.0) == 30.0


def test_retry_after_takes_seconds_or_an_http_date() -> None:
    now = 1_800_000_000.0
    assert retry_after("7", now=now) == 7.0
    assert retry_after(email.utils.formatdate(now + 42, usegmt=True), now=now) == 42.0
    assert retry_after("86400", now=now) == MAX_RETRY_AFTER_S
    assert retry_after("-3", now=now) == 0.0
    assert retry_after("soon", now=now) is None
    assert retry_after(None, now=now) is None
