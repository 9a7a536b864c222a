"""One delivery attempt over the network: HTTP for webhook, Slack and PagerDuty; SMTP for e-mail.

:func:`attempt` never raises: it returns an :class:`Attempt` that says whether the notice
arrived, and if not, whether trying again can help and how long the receiver asked us to wait.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from typing import Any, Final

import httpx

from ..._version import __version__
from . import formats
from .config import ChannelConfig
from .notice import AnomalyNotice

logger = logging.getLogger("aither.server.alerts")
# 408 and 425 are "try again", 429 is "later", 5xx are the receiver's trouble; any other 4xx
# means the request itself is wrong and resending it can't help.
_RETRY_STATUSES: Final = frozenset({408, 425, 429})
MAX_RETRY_AFTER_S: Final = 300.0
"""A ``Retry-After`` longer than this is cut to it, so one answer can't park a channel for hours."""


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try."""

    delivered: bool
    retryable: bool = False
    http_status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    """The receiver's ``Retry-After`` (on 429 and 503), in seconds."""


def retry_after(value: str | None, *, now: float) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from ``now``, capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        seconds = moment.timestamp() - now
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _post(config: ChannelConfig, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
    headers = {"User-Agent": f"aither-server/{__version__}", "Content-Type": "application/json", **headers}
    try:
        with httpx.Client(timeout=config.timeout_s, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        return Attempt(
            False, retryable=True, error=f"timed out after {config.timeout_s:g} s ({type(exc).__name__})"
        )
    except httpx.HTTPError as exc:
        return Attempt(False, retryable=True, error=f"{type(exc).__name__}: {exc}"[:500])
    status = response.status_code
    if 200 <= status < 300:
        return Attempt(True, http_status=status)
    wait = retry_after(response.headers.get("retry-after"), now=time.time()) if status in (429, 503) else None
    text = response.text.strip().replace("\n", " ")[:300]
    return Attempt(
        False,
        retryable=status in _RETRY_STATUSES or status >= 500,
        http_status=status,
        error=f"HTTP {status}" + (f": {text}" if text else ""),
        retry_after_s=wait,
    )


def _smtp(config: ChannelConfig, notice: AnomalyNotice, link: str | None) -> Attempt:
    settings = config.settings
    message = formats.email_message(notice, sender=settings["from"], recipients=settings["to"], link=link)
    host, port, security = settings["host"], settings["port"], settings["security"]
    try:
        server: smtplib.SMTP
        if security == "ssl":
            server = smtplib.SMTP_SSL(
                host, port, timeout=config.timeout_s, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(host, port, timeout=config.timeout_s)
        with server:
            if security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if settings.get("username"):
                server.login(settings["username"], settings.get("password") or "")
            refused = server.send_message(message)
    except smtplib.SMTPNotSupportedError as exc:  # never fall back to sending in the clear
        return Attempt(
            False, error=f"the SMTP server does not support what security={security!r} needs: {exc}"
        )
    except smtplib.SMTPAuthenticationError as exc:
        return Attempt(False, error=f"SMTP login refused: {exc.smtp_code} {exc.smtp_error!r}"[:500])
    except smtplib.SMTPRecipientsRefused as exc:
        return Attempt(False, error=f"SMTP refused every recipient: {sorted(exc.recipients)}"[:500])
    except smtplib.SMTPResponseException as exc:
        # 4xx replies are transient by RFC 5321; 5xx are permanent
        return Attempt(
            False,
            retryable=400 <= exc.smtp_code < 500,
            error=f"SMTP {exc.smtp_code} {exc.smtp_error!r}"[:500],
        )
    except (smtplib.SMTPException, OSError) as exc:
        return Attempt(False, retryable=True, error=f"{type(exc).__name__}: {exc}"[:500])
    if refused:
        return Attempt(True, error=f"some recipients refused: {sorted(refused)}"[:500])
    return Attempt(True)


def attempt(
    config: ChannelConfig, notice: AnomalyNotice, *, delivery_id: int | None = None, link: str | None = None
) -> Attempt:
    """Send ``notice`` once through ``config``'s channel. Blocking (up to about ``timeout_s``
    per network step); never raises."""
    try:
        settings: Any = config.settings
        if config.kind == "webhook":
            body, headers = formats.webhook_request(
                notice, settings["secret"], timestamp=int(time.time()), delivery_id=delivery_id, link=link
            )
            return _post(config, settings["url"], body, {**(settings.get("headers") or {}), **headers})
        if config.kind == "slack":
            return _post(config, settings["url"], formats.json_body(formats.slack_message(notice, link)), {})
        if config.kind == "pagerduty":
            event = formats.pagerduty_event(
                notice, settings["routing_key"], source=settings["source"], link=link
            )
            return _post(config, settings["url"], formats.json_body(event), {})
        return _smtp(config, notice, link)
    except Exception as exc:  # a bug of ours must not kill the channel's worker
        logger.exception("aither alerts: channel %s: building or sending the notice failed", config.name)
        return Attempt(False, error=f"internal error: {type(exc).__name__}: {exc}"[:500])
