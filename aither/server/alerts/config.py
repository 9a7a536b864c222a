"""Alert channels as configured: one flat table per channel, from the rules file or the API.

The rules file's ``[[alerts.channels]]`` array and the API's request bodies use the same keys,
and :func:`parse_channel` is the one validator of both::

    [[alerts.channels]]
    name = "ops"
    type = "webhook"                 # webhook | slack | pagerduty | email
    url = "https://hooks.example.com/aither"
    secret = "a long random string"
    min_severity = "high"            # low | medium | high | critical (default low)
    rules = ["pii_detected"]         # optional: only these rules
    anomaly_types = ["security_threat"]  # optional: only these types
    max_attempts = 5                 # retries, with exponential backoff and jitter
    backoff_s = 2.0
    timeout_s = 10.0

A wrong key or value raises :class:`ValueError` naming the channel and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, cast, get_args

from ...schema.vocabulary import AnomalyType, Severity
from .notice import AnomalyNotice

ChannelKind = Literal["webhook", "slack", "pagerduty", "email"]
KINDS: Final[tuple[str, ...]] = get_args(ChannelKind)
PAGERDUTY_URL: Final = "https://events.pagerduty.com/v2/enqueue"
"""PagerDuty's Events API v2 endpoint (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)."""
SMTP_SECURITY: Final = ("starttls", "ssl", "none")
_SMTP_PORTS: Final = {"starttls": 587, "ssl": 465, "none": 25}
MASK: Final = "****"


@dataclass(frozen=True)
class _Field:
    kind: type | tuple[type, ...]
    required: bool = False
    secret: bool = False
    default: Any = None


# Per channel type, the keys of its own settings. ``secret`` ones are never returned in full.
_SETTINGS: Final[dict[str, dict[str, _Field]]] = {
    "webhook": {
        "url": _Field(str, required=True),
        "secret": _Field(str, required=True, secret=True),
        # often an Authorization header: its values are masked like the secret
        "headers": _Field(dict, secret=True, default=None),
    },
    # Slack's incoming-webhook URL is itself the credential (it embeds the token).
    "slack": {"url": _Field(str, required=True, secret=True)},
    "pagerduty": {
        "routing_key": _Field(str, required=True, secret=True),
        "url": _Field(str, default=PAGERDUTY_URL),
        "source": _Field(str, default="aither"),
    },
    "email": {
        "host": _Field(str, required=True),
        "port": _Field(int, default=None),
        "security": _Field(str, default="starttls"),
        "username": _Field(str, default=None),
        "password": _Field(str, secret=True, default=None),
        "from": _Field(str, required=True),
        "to": _Field((list, str), required=True),
    },
}
_COMMON: Final = frozenset(
    {
        "id",
        "name",
        "type",
        "enabled",
        "min_severity",
        "rules",
        "anomaly_types",
        "max_attempts",
        "backoff_s",
        "timeout_s",
    }
)


@dataclass(frozen=True)
class ChannelConfig:
    """One alert channel: where notices go, which ones, and how hard to try.

    ``id`` is ``chn_...`` for a channel stored through the API and ``file:<name>`` for one
    from the rules file (``None`` until stored).
    """

    name: str
    kind: ChannelKind
    settings: Mapping[str, Any]
    """The type's own keys (``url``, ``secret``, ``routing_key``, ``host``...), validated."""
    enabled: bool = True
    min_severity: Severity = Severity.LOW
    rules: frozenset[str] = frozenset()
    """Only notices of these rules (empty: any rule)."""
    anomaly_types: frozenset[str] = frozenset()
    """Only notices of these anomaly types (empty: any type)."""
    max_attempts: int = 5
    backoff_s: float = 2.0
    """The first retry's delay; each next one doubles it (with jitter), up to five minutes."""
    timeout_s: float = 10.0
    """Per attempt: connecting, and each read or write."""
    id: str | None = None
    source: Literal["api", "file"] = "api"

    def accepts(self, notice: AnomalyNotice) -> bool:
        """Whether this channel wants ``notice``: enabled, severe enough, and of its rules and types."""
        if not self.enabled:
            return False
        try:
            severity = Severity(notice.severity)
        except ValueError:  # an unknown severity is delivered rather than silently dropped
            severity = Severity.CRITICAL
        if severity < self.min_severity:
            return False
        if self.rules and notice.rule not in self.rules:
            return False
        return not (self.anomaly_types and notice.anomaly_type not in self.anomaly_types)

    def to_mapping(self, *, masked: bool = False) -> dict[str, Any]:
        """The flat table :func:`parse_channel` reads back (secrets masked when ``masked``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.kind,
            "enabled": self.enabled,
            "min_severity": self.min_severity.value,
            "rules": sorted(self.rules),
            "anomaly_types": sorted(self.anomaly_types),
            "max_attempts": self.max_attempts,
            "backoff_s": self.backoff_s,
            "timeout_s": self.timeout_s,
        }
        out.update(mask_settings(self.kind, self.settings) if masked else self.settings)
        return out


def mask(value: str) -> str:
    """A secret as the API shows it: ``****`` and, for long ones, the last four characters."""
    return MASK + value[-4:] if len(value) >= 16 else MASK


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {key: _masked(item) for key, item in value.items()}
    return value


def mask_settings(kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with every secret masked (see :func:`mask`), as the API returns them."""
    spec = _SETTINGS[kind]
    return {
        key: _masked(value) if key in spec and spec[key].secret else value for key, value in settings.items()
    }


def _is_mask(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MASK)


def unmask_changes(kind: str, settings: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` without the masked secrets a client sent back as it read them: those keep
    their stored value (a masked header keeps its value; the others change)."""
    spec = _SETTINGS[kind]
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key in spec and spec[key].secret:
            if _is_mask(value):
                continue
            if isinstance(value, Mapping) and isinstance(settings.get(key), Mapping):
                stored = settings[key]
                value = {k: stored[k] if _is_mask(v) and k in stored else v for k, v in value.items()}
        out[key] = value
    return out


def _where(data: Mapping[str, Any], index: int | None) -> str:
    name = data.get("name")
    if isinstance(name, str) and name:
        return f"alert channel {name!r}"
    return f"alerts.channels[{index}]" if index is not None else "alert channel"


def _number(where: str, key: str, value: Any, kind: type, low: float, high: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise ValueError(f"{where}: {key} must be a number, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{where}: {key} must be between {low:g} and {high:g}, not {value!r}")
    return kind(value)


def _names(where: str, key: str, value: Any, allowed: Iterable[str] | None = None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: {key} must be a list of strings, not {value!r}")
    names = frozenset(value)
    if not all(isinstance(item, str) and item for item in names):
        raise ValueError(f"{where}: {key} must be a list of non-empty strings, not {value!r}")
    if allowed is not None:
        unknown = sorted(names - set(allowed))
        if unknown:
            raise ValueError(f"{where}: {key} has unknown values {unknown}; known: {', '.join(allowed)}")
    return names


def _url(where: str, key: str, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{where}: {key} must be an http:// or https:// URL, not {value!r}")
    return value


def _settings(where: str, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    spec = _SETTINGS[kind]
    unknown = sorted(set(data) - _COMMON - set(spec))
    if unknown:
        known = ", ".join(sorted(_COMMON | set(spec)))
        raise ValueError(f"{where}: unknown key {unknown[0]!r} for a {kind} channel; known keys: {known}")
    settings: dict[str, Any] = {}
    for key, rule in spec.items():
        value = data.get(key)
        if value is None or value == "":
            if rule.required:
                raise ValueError(f"{where}: {key} is required for a {kind} channel")
            if rule.default is not None:
                settings[key] = rule.default
            continue
        if isinstance(value, bool) or not isinstance(value, rule.kind):
            raise ValueError(f"{where}: {key} has the wrong type ({type(value).__name__})")
        settings[key] = value
    for key in ("url",):
        if key in settings:
            _url(where, key, settings[key])
    if kind == "webhook" and settings.get("headers") is not None:
        headers = settings["headers"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ValueError(f"{where}: headers must be a table of strings")
    if kind == "email":
        security = settings["security"]
        if security not in SMTP_SECURITY:
            raise ValueError(f"{where}: security must be one of {', '.join(SMTP_SECURITY)}, not {security!r}")
        settings["port"] = _number(
            where, "port", settings.get("port") or _SMTP_PORTS[security], int, 1, 65535
        )
        recipients = [settings["to"]] if isinstance(settings["to"], str) else settings["to"]
        if not recipients or not all(isinstance(item, str) and "@" in item for item in recipients):
            raise ValueError(
                f"{where}: to must be an e-mail address or a list of them, not {settings['to']!r}"
            )
        settings["to"] = list(recipients)
        if "@" not in settings["from"]:
            raise ValueError(f"{where}: from must be an e-mail address, not {settings['from']!r}")
        if settings.get("password") is not None and settings.get("username") is None:
            raise ValueError(f"{where}: password is set but username is not")
    return settings


def parse_channel(data: Mapping[str, Any], *, index: int | None = None) -> ChannelConfig:
    """One channel from its flat table (a rules-file entry or an API body); ValueError names the field.

    Example:
        >>> parse_channel({"name": "ops", "type": "slack", "url": "https://hooks.slack.com/x"}).kind
        'slack'
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"alerts.channels[{index}] must be a table, not {type(data).__name__}")
    where = _where(data, index)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError(f"{where}: name is required (a string of 1 to 200 characters)")
    kind = data.get("type")
    if kind not in KINDS:
        raise ValueError(f"{where}: type must be one of {', '.join(KINDS)}, not {kind!r}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError(f"{where}: enabled must be true or false, not {enabled!r}")
    severity = data.get("min_severity", Severity.LOW.value)
    try:
        min_severity = Severity(severity)
    except ValueError:
        known = ", ".join(s.value for s in Severity)
        raise ValueError(f"{where}: min_severity must be one of {known}, not {severity!r}") from None
    return ChannelConfig(
        name=name.strip(),
        kind=cast(ChannelKind, kind),
        settings=_settings(where, str(kind), data),
        enabled=enabled,
        min_severity=min_severity,
        rules=_names(where, "rules", data.get("rules")),
        anomaly_types=_names(
            where, "anomaly_types", data.get("anomaly_types"), [t.value for t in AnomalyType]
        ),
        max_attempts=_number(where, "max_attempts", data.get("max_attempts", 5), int, 1, 20),
        backoff_s=_number(where, "backoff_s", data.get("backoff_s", 2.0), float, 0.0, 3600.0),
        timeout_s=_number(where, "timeout_s", data.get("timeout_s", 10.0), float, 0.1, 300.0),
        id=data.get("id") if isinstance(data.get("id"), str) else None,
    )


def parse_channels(data: Mapping[str, Any]) -> list[ChannelConfig]:
    """The channels of the rules file's parsed ``alerts`` table (its ``channels`` array).

    Channel names must be unique; each becomes the channel ``file:<name>``, sent every
    organisation's notices that match its filters. Raises :class:`ValueError` naming the bad
    field.

    Example:
        >>> import tomllib
        >>> rules = tomllib.loads('''
        ... [[alerts.channels]]
        ... name = "pager"
        ... type = "pagerduty"
        ... routing_key = "R0UT1NGKEY"
        ... min_severity = "critical"
        ... ''')
        >>> [c.id for c in parse_channels(rules["alerts"])]
        ['file:pager']
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"alerts must be a table, not {type(data).__name__}")
    raw = data.get("channels", [])
    if not isinstance(raw, list):
        raise ValueError(f"alerts.channels must be an array of tables ([[alerts.channels]]), not {raw!r}")
    channels: list[ChannelConfig] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        if isinstance(item, Mapping) and "id" in item:
            raise ValueError(f"{_where(item, index)}: id is not a rules-file key (the id is file:<name>)")
        channel = parse_channel(item, index=index)
        if channel.name in seen:
            raise ValueError(f"alerts.channels[{index}]: name {channel.name!r} is used twice")
        seen.add(channel.name)
        channels.append(replace(channel, id=f"file:{channel.name}", source="file"))
    return channels
