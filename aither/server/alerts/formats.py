"""What each channel sends: the notice as a signed webhook body, a Slack message, a PagerDuty
event, or an e-mail. Pure functions of the notice; nothing here touches the network.

The webhook signature (documented in ``docs/server.md``, "Alerts"): the header
``X-Aither-Signature: sha256=<hex>`` is HMAC-SHA256, keyed with the channel's secret, of
``<timestamp>.<raw body>``, where ``<timestamp>`` is the ``X-Aither-Timestamp`` header (Unix
seconds). Signing the timestamp with the body lets a receiver refuse replays of old bodies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
from email.message import EmailMessage
from typing import Any, Final

import orjson

from .notice import AnomalyNotice

SIGNATURE_HEADER: Final = "X-Aither-Signature"
TIMESTAMP_HEADER: Final = "X-Aither-Timestamp"
EVENT_HEADER: Final = "X-Aither-Event"
DELIVERY_HEADER: Final = "X-Aither-Delivery"

# PagerDuty's payload.severity takes exactly these four
# (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
_PAGERDUTY_SEVERITY: Final = {"low": "info", "medium": "warning", "high": "error", "critical": "critical"}
_SLACK_MARK: Final = {"low": ":large_blue_circle:", "medium": ":large_yellow_circle:", "high": ":red_circle:"}


def notice_dict(notice: AnomalyNotice) -> dict[str, Any]:
    """The notice as JSON-ready values (times in ISO 8601)."""
    out = dataclasses.asdict(notice)
    for key, value in out.items():
        if isinstance(value, dt.datetime):
            out[key] = value.isoformat()
    return out


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)  # evidence is the detector's: anything else is sent as its text


def json_body(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Aither-Signature`` value of ``body`` sent at ``timestamp``: ``sha256=<hex>``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance_s: float = 300
) -> bool:
    """Whether ``signature`` is this secret's for ``body`` at ``timestamp``, sent within ``tolerance_s``.

    What a receiver does (the docs show the same in a few lines of its own).
    """
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def webhook_request(
    notice: AnomalyNotice, secret: str, *, timestamp: int, delivery_id: int | None, link: str | None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook POST: the notice as JSON, signed."""
    body = json_body({**notice_dict(notice), "link": link})
    stamp = str(timestamp)
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
        EVENT_HEADER: notice.event,
    }
    if delivery_id is not None:
        headers[DELIVERY_HEADER] = str(delivery_id)
    return body, headers


def target_text(notice: AnomalyNotice) -> str:
    parts = [f"{key}={value}" for key, value in notice.target.items() if value]
    return ", ".join(parts) or "-"


def summary(notice: AnomalyNotice) -> str:
    """One line: ``[HIGH] opened: Latency spike on fraud_detector``."""
    return f"[{notice.severity.upper()}] {notice.event}: {notice.title}"


def slack_message(notice: AnomalyNotice, link: str | None) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` for notifications, Block Kit for the channel."""
    resolved = notice.event == "resolved"
    mark = ":white_check_mark:" if resolved else _SLACK_MARK.get(notice.severity, ":rotating_light:")
    fields = [
        f"*Severity*\n{notice.severity}",
        f"*Event*\n{notice.event}",
        f"*Target*\n{target_text(notice)}",
        f"*Rule*\n{notice.rule} ({notice.anomaly_type})",
        f"*Seen*\n{notice.count}x, last {notice.last_seen.isoformat(timespec='seconds')}",
        f"*Status*\n{notice.status}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{notice.title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mark} {notice.message}"[:3000]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text[:2000]} for text in fields]},
    ]
    if notice.recommended_action and not resolved:
        action = f"*Recommended action:* {notice.recommended_action}"[:3000]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": action}})
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open in aither"}, "url": link}
                ],
            }
        )
    return {"text": f"{mark} {summary(notice)} ({target_text(notice)})", "blocks": blocks}


def dedup_key(notice: AnomalyNotice) -> str:
    """PagerDuty's incident key: one per anomaly, so its ``resolve`` closes what ``trigger`` opened."""
    return f"aither-{notice.org_id}-{notice.id}"


def pagerduty_event(
    notice: AnomalyNotice, routing_key: str, *, source: str, link: str | None
) -> dict[str, Any]:
    """An Events API v2 event: ``trigger`` for opened and escalated, ``resolve`` for resolved."""
    if notice.event == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key(notice)}
    target = notice.target
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(notice),
        "payload": {
            "summary": f"{notice.title} ({target_text(notice)})"[:1024],
            "severity": _PAGERDUTY_SEVERITY.get(notice.severity, "critical"),
            "source": target.get("service") or target.get("model") or source,
            "timestamp": notice.last_seen.isoformat(),
            "component": target.get("model") or target.get("service"),
            "group": target.get("environment"),
            "class": notice.anomaly_type,
            "custom_details": {
                "message": notice.message,
                "recommended_action": notice.recommended_action,
                "rule": notice.rule,
                "detection_method": notice.detection_method,
                "count": notice.count,
                "first_seen": notice.first_seen.isoformat(),
                "target": notice.target,
                "evidence": notice.evidence,
            },
        },
        "client": "aither",
    }
    event["payload"] = {key: value for key, value in event["payload"].items() if value is not None}
    if link:
        event["client_url"] = link
        event["links"] = [{"href": link, "text": "Open in aither"}]
    return event


def email_message(
    notice: AnomalyNotice, *, sender: str, recipients: list[str], link: str | None
) -> EmailMessage:
    """A plain-text e-mail of the notice."""
    message = EmailMessage()
    message["Subject"] = f"[aither] {summary(notice)}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    lines = [
        notice.title,
        "",
        notice.message,
        "",
        f"Severity:  {notice.severity}",
        f"Event:     {notice.event} (status {notice.status})",
        f"Target:    {target_text(notice)}",
        f"Rule:      {notice.rule} ({notice.anomaly_type}, {notice.detection_method})",
        f"Seen:      {notice.count} times, {notice.first_seen.isoformat()} to {notice.last_seen.isoformat()}",
    ]
    if notice.recommended_action:
        lines += ["", f"Recommended action: {notice.recommended_action}"]
    if notice.evidence:
        lines += ["", "Evidence:", json_body(notice.evidence).decode()]
    if link:
        lines += ["", link]
    message.set_content("\n".join(lines) + "\n")
    return message
