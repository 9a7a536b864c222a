"""Server settings: argument > ``AITHER_*`` environment > default, validated up front.

=============================  ==============================================  ========================
variable                       meaning                                         default
=============================  ==============================================  ========================
``AITHER_HOME``                data directory (database, credentials file)     ``~/.aither``
``AITHER_DATABASE_URL``        SQLAlchemy URL of the database                  ``sqlite:///<home>/aither.db``
``AITHER_TELEMETRY_DB``        ClickHouse URL for telemetry (``--telemetry-db``:  none: telemetry in the
                               ``clickhouse://user@host:9000/aither``, or          database above
                               ``chdb:///dir``); accounts stay in the database
``AITHER_CLICKHOUSE_CLUSTER``  a cluster of the telemetry ClickHouse's          one server
                               ``remote_servers`` to shard over (adds
                               ``?cluster=`` to ``AITHER_TELEMETRY_DB``)
``AITHER_SERVER_HOST``         address to listen on                            ``127.0.0.1``
``AITHER_SERVER_PORT``         port to listen on (0: any free port)            ``4680``
``AITHER_MAX_BODY_BYTES``      largest request body, before and after gzip     16 MiB
``AITHER_MAX_QUEUED_SPANS``    spans waiting for the writer before 503         100000
``AITHER_INGEST_TIMEOUT``      seconds an export waits for its commit, then    5
                               503 with ``Retry-After`` (below an exporter's
                               own timeout, 10 s by default)
``AITHER_AUTH_FAILURE_BURST``  failed sign-ins an address may make at once     20
                               before 429
``AITHER_AUTH_FAILURE_RATE``   failed sign-ins per minute an address earns     30
                               back afterwards
``AITHER_AUTH_TRACKED``        addresses the failure limit remembers (LRU)     10000
``AITHER_INIT_ORG``            organisation created on first start             ``default``
``AITHER_INIT_ADMIN_EMAIL``    admin user created on first start               ``admin@localhost``
``AITHER_INIT_API_KEY``        admin key created on first start                generated, printed once
``AITHER_RULES_FILE``          TOML file of detection rules (``--rules``)      the built-in defaults
``AITHER_RETENTION``           delete telemetry older than this (``30d``)      keep everything
``AITHER_UI_SESSION_HOURS``    lifetime of a dashboard sign-in, in hours       12
``AITHER_DRIFT_FILE``          TOML file of drift settings (``docs/drift.md``) the built-in defaults
``AITHER_JUDGE_API_KEY``       the judge model's API key (its name is a drift   none
                               setting, ``judge_api_key_env``)
``AITHER_LEASE_TTL``           seconds a server holds the lease of the          10
                               once-only work (window rules, retention, alert
                               delivery) without renewing it: how long a dead
                               server's work waits (``docs/deployment.md``)
=============================  ==============================================  ========================
"""

from __future__ import annotations

import os
import sys
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from ..exceptions import ConfigError
from ..schema import credentials
from .drift.config import DriftSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4680
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def default_home() -> Path:
    """``$AITHER_HOME`` or ``~/.aither`` (the SDK reads the credentials file from the same place)."""
    return credentials.aither_home(_env(credentials.HOME_VARIABLE))


def _float(name: str, raw: str | None, default: float, minimum: float, maximum: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} must be between {minimum} and {maximum}")
    return value


def _int(name: str, raw: str | int | None, default: int, minimum: int, maximum: int | None = None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{name}={raw!r} must be {bound}")
    return value


_T = TypeVar("_T", int, float, str)


def _from_env(default: _T, variable: str, minimum: float | None = None, maximum: float | None = None) -> _T:
    """A setting's default and where :meth:`ServerSettings.from_env` reads it: ``variable``,
    parsed as the default's type and kept within the bounds (a string: as it is, if not blank)."""
    return field(default=default, metadata={"env": (variable, minimum, maximum)})  # type: ignore[no-any-return]


def _read_env(setting: Field[Any]) -> Any:
    """A setting's value from its environment variable (:func:`_from_env`), else its default."""
    variable, minimum, maximum = setting.metadata["env"]
    raw, default = _env(variable), setting.default
    if isinstance(default, str):
        return raw or default
    if isinstance(default, float):
        return _float(variable, raw, default, minimum, maximum)
    if isinstance(default, int):
        return _int(variable, raw, default, minimum, maximum)
    raise TypeError(f"setting {setting.name} has no default of a type read from the environment")


def _telemetry_url(url: str | None, cluster: str | None) -> str | None:
    """The telemetry URL, with ``cluster=<cluster>`` (``AITHER_CLICKHOUSE_CLUSTER``) added."""
    if cluster is None:
        return url
    if url is None:
        raise ConfigError(
            f"AITHER_CLICKHOUSE_CLUSTER={cluster!r} needs a telemetry database: set --telemetry-db "
            "(AITHER_TELEMETRY_DB) to the ClickHouse node to connect to"
        )
    named = parse_qs(urlsplit(url).query).get("cluster")
    if named:
        if named[-1] != cluster:
            raise ConfigError(
                f"AITHER_CLICKHOUSE_CLUSTER={cluster!r}, but the telemetry URL names cluster {named[-1]!r}; "
                "keep one"
            )
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'cluster': cluster})}"


def _rules_path(raw: str | Path | None) -> Path | None:
    if raw is None:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(f"rules file {str(path)!r} does not exist")
    return path


def _retention(raw: str | float | None) -> float | None:
    if raw is None:
        return None
    from .detection.rules import parse_duration

    seconds = parse_duration(raw, "retention")
    if seconds < 3600:
        raise ConfigError(
            f"retention={raw!r} is under an hour; keep at least 1h (the rules look back that far)"
        )
    return seconds


def _drift_settings(path: Path | None) -> DriftSettings:
    """Drift settings from a TOML file (``AITHER_DRIFT_FILE``), the judge's key from its variable."""
    settings = DriftSettings()
    if path is not None:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib

        if not path.is_file():
            raise ConfigError(f"drift settings file {str(path)!r} does not exist")
        try:
            settings = settings.updated(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"drift settings file {str(path)!r}: {exc}") from None
    key = _env(settings.judge_api_key_env)
    return replace(settings, judge_api_key=key) if key else settings


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server needs to start. Build it with :meth:`from_env`."""

    home: Path
    database_url: str
    telemetry_url: str | None = None
    """ClickHouse for spans, predictions, labels, LLM calls and rollups; None: ``database_url``."""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = _from_env(DEFAULT_MAX_BODY_BYTES, "AITHER_MAX_BODY_BYTES", 1024)
    max_queued_spans: int = _from_env(100_000, "AITHER_MAX_QUEUED_SPANS", 1)
    max_batch_spans: int = 5_000
    ingest_timeout: float = _from_env(5.0, "AITHER_INGEST_TIMEOUT", 0.1, 300.0)
    """Seconds an export waits for its commit before 503 (the database is locked or slow)."""
    auth_failure_burst: int = _from_env(20, "AITHER_AUTH_FAILURE_BURST", 1)
    auth_failure_rate: float = _from_env(30.0, "AITHER_AUTH_FAILURE_RATE", 0.01, 1_000_000.0)
    """Failed sign-ins per minute an address earns back once it used its burst."""
    auth_tracked_addresses: int = _from_env(10_000, "AITHER_AUTH_TRACKED", 1)
    init_org: str = _from_env("default", "AITHER_INIT_ORG")
    init_admin_email: str = _from_env("admin@localhost", "AITHER_INIT_ADMIN_EMAIL")
    init_api_key: str | None = field(default=None, repr=False)
    write_credentials: bool = True
    """Write ``<home>/credentials.json`` when the first start generates a key."""
    announce: bool = True
    """Print the generated key (once) on first start."""
    rules_path: Path | None = None
    """TOML file of detection rules; None: the defaults (see ``docs/detection.md``)."""
    retention_s: float | None = None
    """Delete telemetry older than this many seconds, in small batches; None: keep everything."""
    ui_session_hours: int = _from_env(12, "AITHER_UI_SESSION_HOURS", 1, 24 * 90)
    """Lifetime of a dashboard sign-in (the session cookie and its row)."""
    drift: DriftSettings = field(default_factory=DriftSettings)
    """Windows and thresholds of drift detection (see ``docs/drift.md``)."""
    lease_ttl_s: float = _from_env(10.0, "AITHER_LEASE_TTL", 0.5, 600.0)
    """Servers sharing a database: how long the lease of the once-only work lasts unrenewed."""

    @classmethod
    def from_env(
        cls,
        *,
        home: str | Path | None = None,
        database_url: str | None = None,
        telemetry_url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        rules: str | Path | None = None,
        retention: str | float | None = None,
        **overrides: object,
    ) -> ServerSettings:
        """Settings from arguments, then the environment, then the defaults."""
        resolved_home = Path(home).expanduser() if home is not None else default_home()
        url = database_url or _env("AITHER_DATABASE_URL") or f"sqlite:///{resolved_home / 'aither.db'}"
        init_key = _env("AITHER_INIT_API_KEY")
        if init_key is not None and (len(init_key) < 16 or any(c.isspace() for c in init_key)):
            raise ConfigError(
                "AITHER_INIT_API_KEY must be at least 16 characters without spaces; "
                "generate one with: python -c \"import secrets; print('aith_' + secrets.token_urlsafe(32))\""
            )
        settings = cls(
            home=resolved_home,
            database_url=url,
            telemetry_url=_telemetry_url(
                telemetry_url or _env("AITHER_TELEMETRY_DB"), _env("AITHER_CLICKHOUSE_CLUSTER")
            ),
            host=host or _env("AITHER_SERVER_HOST") or DEFAULT_HOST,
            port=_int(
                "port", port if port is not None else _env("AITHER_SERVER_PORT"), DEFAULT_PORT, 0, 65535
            ),
            init_api_key=init_key,
            rules_path=_rules_path(rules if rules is not None else _env("AITHER_RULES_FILE")),
            retention_s=_retention(retention if retention is not None else _env("AITHER_RETENTION")),
            **{setting.name: _read_env(setting) for setting in fields(cls) if "env" in setting.metadata},
        )
        drift_file = _env("AITHER_DRIFT_FILE")
        drift = _drift_settings(Path(drift_file).expanduser() if drift_file else None)
        settings = replace(settings, drift=drift)
        if overrides:
            settings = replace(settings, **overrides)  # type: ignore[arg-type]
        return settings

    @property
    def credentials_path(self) -> Path:
        return credentials.credentials_path(self.home)

    @property
    def base_url(self) -> str:
        """The URL clients on this machine use to reach the server."""
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"
