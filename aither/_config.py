"""Settings: argument > ``AITHER_*`` environment > standard ``OTEL_*`` environment > default.

Everything is validated once, in :func:`resolve_settings`, so a wrong value raises
:class:`~aither.exceptions.ConfigError` at ``init()`` with the fix in the message,
never later on a hot path.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .exceptions import ConfigError
from .sampling.limits import SampleLimits

DEFAULT_BASE_URL = "http://127.0.0.1:4680"
"""Where ``aither server`` listens by default."""

MAX_TRACE_IDS = 1000
"""Default cap of ``TrackedModel.trace_ids`` (``trace_ids_size``): the most recent trace ids
are kept, older ones fall off, so a long-running model's memory stays bounded."""

COMPRESSIONS = ("gzip", "deflate", "none")
"""Values of ``compression`` (``AITHER_COMPRESSION``): OTLP/HTTP's."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def aither_home() -> Path:
    """The data directory shared with ``aither server``: ``$AITHER_HOME`` or ``~/.aither``."""
    home = os.environ.get("AITHER_HOME")
    return Path(home).expanduser() if home else Path.home() / ".aither"


def credentials_path() -> Path:
    """The credentials file ``aither server`` writes on its first start."""
    return aither_home() / "credentials.json"


def read_credentials() -> dict[str, str]:
    """The ``{"api_key", "base_url"}`` that ``aither server`` wrote, or ``{}``; never raises."""
    try:
        data = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


@dataclass(frozen=True)
class Settings:
    """The resolved, validated settings of one :class:`aither.Client`."""

    api_key: str | None
    base_url: str
    traces_endpoint: str
    headers: Mapping[str, str]
    enabled: bool = True
    service_name: str | None = None
    environment: str | None = None
    flush_interval: float = 1.0
    batch_size: int = 100
    max_queue_size: int = 100_000
    max_queue_bytes: int = 256 * 1024 * 1024
    export_timeout: float = 10.0
    shutdown_timeout: float = 5.0
    limits: SampleLimits = field(default_factory=SampleLimits)
    redact_keys: frozenset[str] = frozenset()
    raise_internal_errors: bool = False
    capture_content: bool = False
    capture_embeddings: bool = False
    """Record the first input's vector of wrapped embeddings calls as ``aither.embedding.prompt``."""
    trace_ids_size: int = MAX_TRACE_IDS
    debug: bool = False
    max_retries: int = 0
    compression: str | None = None
    certificate_file: str | None = None
    client_key_file: str | None = None
    client_certificate_file: str | None = None
    on_error: Callable[[BaseException], object] | None = None


def load_dotenv_file() -> None:
    """Read the ``.env`` file ``AITHER_DOTENV`` names into the environment (variables already
    set win); ConfigError when it is missing or python-dotenv is not installed."""
    path = os.environ.get("AITHER_DOTENV")
    if not path:
        return
    try:
        from dotenv import load_dotenv
    except ImportError:
        raise ConfigError(
            f"AITHER_DOTENV={path!r} needs python-dotenv: pip install 'aither[dotenv]'"
        ) from None
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"AITHER_DOTENV={path!r} is not a file")
    load_dotenv(file, override=False)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value is not None and value.strip() != "" else None


def _parse_bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def _pick(arg: Any, *env_names: str) -> tuple[Any, str | None]:
    """The argument if given, else the first set environment variable (value, name)."""
    if arg is not None:
        return arg, None
    for name in env_names:
        value = _env(name)
        if value is not None:
            return value, name
    return None, None


def _number(
    label: str, raw: Any, default: float, *, integer: bool, minimum: float, scale: float = 1.0
) -> Any:
    if raw is None:
        return default
    try:
        value = (int(raw) if integer else float(raw)) if isinstance(raw, str) else raw
    except ValueError:
        raise ConfigError(f"{label}={raw!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{label} must be a number, got {type(value).__name__}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{label} must be an integer, got {value!r}")
    value = value * scale
    if value < minimum:
        raise ConfigError(f"{label} must be >= {minimum}, got {raw!r}")
    return int(value) if integer else float(value)


def validate_url(label: str, url: str) -> str:
    """A URL with a scheme and a host, without a trailing slash; else a ConfigError saying why."""
    if not isinstance(url, str):
        raise ConfigError(f"{label} must be a string URL, got {type(url).__name__}")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        hint = f"; did you mean 'http://{url}'?" if "://" not in url else ""
        raise ConfigError(f"{label} {url!r} has no http:// or https:// scheme{hint}")
    if not parts.hostname:
        raise ConfigError(f"{label} {url!r} has no host")
    return url.rstrip("/")


def _parse_headers(raw: str) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS`` form: ``k1=v1,k2=v2`` (values URL-encoded)."""
    from urllib.parse import unquote

    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"OTEL_EXPORTER_OTLP_HEADERS item {item!r} is not key=value")
        headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def resolve_settings(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    otlp_endpoint: str | None = None,
    enabled: bool | None = None,
    service_name: str | None = None,
    environment: str | None = None,
    flush_interval: float | None = None,
    batch_size: int | None = None,
    max_queue_size: int | None = None,
    max_queue_bytes: int | None = None,
    export_timeout: float | None = None,
    shutdown_timeout: float | None = None,
    sample_rows: int | None = None,
    sample_columns: int | None = None,
    prediction_rows: int | None = None,
    redact_keys: Iterable[str] | None = None,
    raise_internal_errors: bool | None = None,
    capture_content: bool | None = None,
    capture_embeddings: bool | None = None,
    trace_ids_size: int | None = None,
    debug: bool | None = None,
    max_retries: int | None = None,
    compression: str | None = None,
    certificate_file: str | None = None,
    client_key_file: str | None = None,
    client_certificate_file: str | None = None,
    on_error: Callable[[BaseException], object] | None = None,
    require_api_key: bool = True,
) -> Settings:
    """Resolve and validate every setting; raises ConfigError with the fix in the message.

    ``require_api_key=False`` is used when spans go to an exporter the caller supplied
    (tests, an in-memory capture), which needs no key. ``AITHER_DOTENV`` names a ``.env``
    file read first (python-dotenv, the ``dotenv`` extra); the process environment wins over it.
    """
    load_dotenv_file()
    raw_enabled, name = _pick(enabled, "AITHER_ENABLED")
    if isinstance(raw_enabled, str):
        raw_enabled = _parse_bool(name or "AITHER_ENABLED", raw_enabled)
    sdk_disabled = _env("OTEL_SDK_DISABLED")
    if raw_enabled is None and sdk_disabled is not None:
        raw_enabled = not _parse_bool("OTEL_SDK_DISABLED", sdk_disabled)
    is_enabled = True if raw_enabled is None else bool(raw_enabled)

    creds = read_credentials()
    raw_base, _ = _pick(base_url, "AITHER_BASE_URL")
    base = validate_url(
        "base_url" if base_url is not None else "AITHER_BASE_URL",
        raw_base or creds.get("base_url") or DEFAULT_BASE_URL,
    )

    # A generic OTLP receiver (an OpenTelemetry Collector, another vendor) named by
    # otlp_endpoint= or the standard OTEL_* variables takes no aither key; base_url is the
    # aither server, whose ingest needs one.
    endpoint, endpoint_name = _pick(otlp_endpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if endpoint is None:
        generic = _env("OTEL_EXPORTER_OTLP_ENDPOINT")
        if generic is not None:
            endpoint = validate_url("OTEL_EXPORTER_OTLP_ENDPOINT", generic) + "/v1/traces"
    elif endpoint_name is not None:
        endpoint = validate_url(endpoint_name, endpoint)
    else:
        endpoint = validate_url("otlp_endpoint", endpoint)
    traces_endpoint = endpoint or base + "/v1/traces"

    key, key_source = _pick(api_key, "AITHER_API_KEY")
    # The credentials file's key belongs to the server it names: use it when no other server
    # was named, or when the one named is that same server.
    creds_base = creds.get("base_url")
    if key is None and (raw_base is None or (creds_base and validate_url("base_url", creds_base) == base)):
        key = creds.get("api_key")
    if key is not None and (not isinstance(key, str) or not key.strip()):
        raise ConfigError(f"api_key must be a non-empty string, got {key!r}")
    if key is not None and key != key.strip():
        raise ConfigError(f"{key_source or 'api_key'} has leading or trailing whitespace")
    if key is None and endpoint is None and is_enabled and require_api_key:
        raise ConfigError(
            f"aither has no API key for {base}: set AITHER_API_KEY, pass aither.init(api_key=...), "
            "or start `aither server` once, which writes one to "
            f"{credentials_path()}. To send to an OTLP receiver that needs no key (an "
            "OpenTelemetry Collector), set OTEL_EXPORTER_OTLP_ENDPOINT or pass otlp_endpoint=; "
            "to turn aither off, set AITHER_ENABLED=false."
        )

    headers: dict[str, str] = {}
    raw_headers = _env("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or _env("OTEL_EXPORTER_OTLP_HEADERS")
    if raw_headers:
        headers.update(_parse_headers(raw_headers))
    if key is not None:
        headers["authorization"] = f"Bearer {key}"

    raw_service, _ = _pick(service_name, "AITHER_SERVICE_NAME", "OTEL_SERVICE_NAME")
    raw_env, _ = _pick(environment, "AITHER_ENVIRONMENT")

    def num(arg: Any, label: str, envs: tuple[str, ...], default: float, **kw: Any) -> Any:
        raw, env_name = _pick(arg, *envs)
        scale = kw.pop("env_scale", 1.0) if env_name and env_name.startswith("OTEL_") else 1.0
        kw.pop("env_scale", None)
        return _number(env_name or label, raw, default, scale=scale, **kw)

    limits = SampleLimits(
        rows=num(sample_rows, "sample_rows", ("AITHER_SAMPLE_ROWS",), 5, integer=True, minimum=0),
        columns=num(
            sample_columns, "sample_columns", ("AITHER_SAMPLE_COLUMNS",), 10, integer=True, minimum=0
        ),
        prediction_rows=num(
            prediction_rows, "prediction_rows", ("AITHER_PREDICTION_ROWS",), 1_000, integer=True, minimum=0
        ),
    )
    raw_raise, name = _pick(raise_internal_errors, "AITHER_RAISE_INTERNAL_ERRORS")
    if isinstance(raw_raise, str):
        raw_raise = _parse_bool(name or "AITHER_RAISE_INTERNAL_ERRORS", raw_raise)
    raw_capture, name = _pick(
        capture_content, "AITHER_CAPTURE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    )
    if isinstance(raw_capture, str):
        raw_capture = _parse_bool(name or "AITHER_CAPTURE_CONTENT", raw_capture)
    raw_vectors, name = _pick(capture_embeddings, "AITHER_CAPTURE_EMBEDDINGS")
    if isinstance(raw_vectors, str):
        raw_vectors = _parse_bool(name or "AITHER_CAPTURE_EMBEDDINGS", raw_vectors)
    raw_debug, name = _pick(debug, "AITHER_DEBUG")
    if isinstance(raw_debug, str):
        raw_debug = _parse_bool(name or "AITHER_DEBUG", raw_debug)
    raw_compression, name = _pick(
        compression,
        "AITHER_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    )
    if raw_compression is not None:
        raw_compression = str(raw_compression).strip().lower()
        if raw_compression not in COMPRESSIONS:
            raise ConfigError(
                f"{name or 'compression'}={raw_compression!r} is not one of {', '.join(COMPRESSIONS)}"
            )
    tls: dict[str, str | None] = {}
    for label, arg, envs in (
        (
            "certificate_file",
            certificate_file,
            (
                "AITHER_CERTIFICATE_FILE",
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
            ),
        ),
        (
            "client_key_file",
            client_key_file,
            (
                "AITHER_CLIENT_KEY_FILE",
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            ),
        ),
        (
            "client_certificate_file",
            client_certificate_file,
            (
                "AITHER_CLIENT_CERTIFICATE_FILE",
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            ),
        ),
    ):
        path, env_name = _pick(arg, *envs)
        if path is not None and not Path(str(path)).expanduser().is_file():
            raise ConfigError(f"{env_name or label}={str(path)!r} is not a readable file")
        tls[label] = str(Path(str(path)).expanduser()) if path is not None else None
    if (tls["client_key_file"] is None) != (tls["client_certificate_file"] is None):
        raise ConfigError("client_key_file and client_certificate_file go together (mutual TLS): give both")
    if on_error is not None and not callable(on_error):
        raise ConfigError(f"on_error must be a callable taking an exception, got {on_error!r}")
    if redact_keys is not None and isinstance(redact_keys, (str, bytes)):
        raise ConfigError("redact_keys must be a list of key names, not one string")

    return Settings(
        api_key=key,
        base_url=base,
        traces_endpoint=traces_endpoint,
        headers=headers,
        enabled=is_enabled,
        service_name=raw_service,
        environment=raw_env,
        flush_interval=num(
            flush_interval,
            "flush_interval",
            ("AITHER_FLUSH_INTERVAL", "OTEL_BSP_SCHEDULE_DELAY"),
            1.0,
            integer=False,
            minimum=0.001,
            env_scale=0.001,
        ),
        batch_size=num(
            batch_size,
            "batch_size",
            ("AITHER_BATCH_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
            100,
            integer=True,
            minimum=1,
        ),
        max_queue_size=num(
            max_queue_size,
            "max_queue_size",
            ("AITHER_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"),
            100_000,
            integer=True,
            minimum=1,
        ),
        max_queue_bytes=num(
            max_queue_bytes,
            "max_queue_bytes",
            ("AITHER_MAX_QUEUE_BYTES",),
            256 * 1024 * 1024,
            integer=True,
            minimum=1024,
        ),
        export_timeout=num(
            export_timeout,
            "export_timeout",
            ("AITHER_EXPORT_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
            10.0,
            integer=False,
            minimum=0.001,
        ),
        shutdown_timeout=num(
            shutdown_timeout,
            "shutdown_timeout",
            ("AITHER_SHUTDOWN_TIMEOUT",),
            5.0,
            integer=False,
            minimum=0.0,
        ),
        limits=limits,
        redact_keys=frozenset(k.lower() for k in (redact_keys or ())),
        raise_internal_errors=bool(raw_raise) if raw_raise is not None else False,
        capture_content=bool(raw_capture) if raw_capture is not None else False,
        capture_embeddings=bool(raw_vectors) if raw_vectors is not None else False,
        trace_ids_size=num(
            trace_ids_size,
            "trace_ids_size",
            ("AITHER_TRACE_IDS_SIZE",),
            MAX_TRACE_IDS,
            integer=True,
            minimum=0,
        ),
        debug=bool(raw_debug) if raw_debug is not None else False,
        max_retries=num(max_retries, "max_retries", ("AITHER_MAX_RETRIES",), 0, integer=True, minimum=0),
        compression=None if raw_compression in (None, "none") else raw_compression,
        certificate_file=tls["certificate_file"],
        client_key_file=tls["client_key_file"],
        client_certificate_file=tls["client_certificate_file"],
        on_error=on_error,
    )


def running_under_pytest() -> bool:
    return "pytest" in sys.modules
