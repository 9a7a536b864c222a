"""Settings: argument > ``AITHER_*`` environment > standard ``OTEL_*`` environment > default.

Everything is validated once, in :func:`resolve_settings`, so a wrong value raises
:class:`~aither.exceptions.ConfigError` at ``init()`` with the fix in the message,
never later on a hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from ._env import env, parse_bool
from ._options import ARGUMENTS, BY_NAME, OPTIONS, Option
from .exceptions import ConfigError
from .sampling.limits import SampleLimits
from .schema import credentials

DEFAULT_BASE_URL = str(BY_NAME["base_url"].default)
"""Where ``aither server`` listens by default."""

MAX_TRACE_IDS = cast(int, BY_NAME["trace_ids_size"].default)
"""Default cap of ``TrackedModel.trace_ids`` (``trace_ids_size``): the most recent trace ids
are kept, older ones fall off, so a long-running model's memory stays bounded."""

COMPRESSIONS = BY_NAME["compression"].choices
"""Values of ``compression`` (``AITHER_COMPRESSION``): OTLP/HTTP's."""


def aither_home() -> Path:
    """The data directory shared with ``aither server``: ``$AITHER_HOME`` or ``~/.aither``."""
    return credentials.aither_home(env(credentials.HOME_VARIABLE))


def credentials_path() -> Path:
    """The credentials file ``aither server`` writes on its first start."""
    return credentials.credentials_path(aither_home())


def read_credentials() -> dict[str, str]:
    """The ``{"api_key", "base_url"}`` that ``aither server`` wrote, or ``{}``; never raises."""
    return credentials.read_credentials(credentials_path())


@dataclass(frozen=True)
class Settings:
    """The resolved, validated settings of one :class:`aither.Client`: one attribute per option
    of :data:`aither._options.OPTIONS` (``Option.attribute``), and what follows from them
    (``traces_endpoint``, ``headers``)."""

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
    mask_pii: bool = False
    """Mask personal data in captured LLM content before export (``AITHER_MASK_PII``)."""
    openai_stream_usage: bool = True
    """Ask OpenAI streams for their usage when the caller did not (``AITHER_OPENAI_STREAM_USAGE``)."""
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
    path = env("AITHER_DOTENV")
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


def _pick(arg: Any, *env_names: str) -> tuple[Any, str | None]:
    """The argument if given, else the first set environment variable (value, name)."""
    if arg is not None:
        return arg, None
    for name in env_names:
        value = env(name)
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


def _bool_value(label: str, raw: object) -> bool:
    return parse_bool(label, raw) if isinstance(raw, str) else bool(raw)


def _read(option: Option, arg: object) -> object:
    """One option of a table-driven kind: the argument or variable, parsed and checked."""
    name = option.name or option.envs[0]
    raw, env_name = _pick(arg, *option.envs)
    label = env_name or name
    if option.kind == "bool":
        return option.default if raw is None else _bool_value(label, raw)
    if option.kind in ("int", "float"):
        scale = option.otel_scale if env_name and env_name.startswith("OTEL_") else 1.0
        minimum = option.minimum if option.minimum is not None else float("-inf")
        default = option.default
        assert isinstance(default, (int, float))
        return _number(label, raw, default, integer=option.kind == "int", minimum=minimum, scale=scale)
    if option.kind == "choice":
        if raw is None:
            return None
        value = str(raw).strip().lower()
        if value not in option.choices:
            raise ConfigError(f"{label}={value!r} is not one of {', '.join(option.choices)}")
        return None if value == "none" else value
    if option.kind == "file":
        if raw is None:
            return None
        path = Path(str(raw)).expanduser()
        if not path.is_file():
            raise ConfigError(f"{label}={str(raw)!r} is not a readable file")
        return str(path)
    return raw  # str


def resolve_settings(*, require_api_key: bool = True, **arguments: Any) -> Settings:
    """Resolve and validate every setting of :data:`aither._options.OPTIONS`; raises ConfigError
    with the fix in the message.

    ``arguments`` are ``aither.Client``'s setting keywords (None: not given); another name is a
    TypeError. ``require_api_key=False`` is used when spans go to an exporter the caller
    supplied (tests, an in-memory capture), which needs no key. ``AITHER_DOTENV`` names a
    ``.env`` file read first (python-dotenv, the ``dotenv`` extra); the process environment
    wins over it.
    """
    unknown = set(arguments) - ARGUMENTS
    if unknown:
        raise TypeError(f"unexpected setting(s): {', '.join(sorted(unknown))}")
    load_dotenv_file()
    values = {
        option.name: _read(option, arguments.get(option.name))
        for option in OPTIONS
        if option.name is not None and option.kind != "custom"
    }

    raw_enabled, name = _pick(arguments.get("enabled"), "AITHER_ENABLED")
    if raw_enabled is not None:
        is_enabled = _bool_value(name or "enabled", raw_enabled)
    else:
        sdk_disabled = env("OTEL_SDK_DISABLED")
        is_enabled = sdk_disabled is None or not parse_bool("OTEL_SDK_DISABLED", sdk_disabled)

    base_url = arguments.get("base_url")
    creds = read_credentials()
    raw_base, _ = _pick(base_url, "AITHER_BASE_URL")
    base = validate_url(
        "base_url" if base_url is not None else "AITHER_BASE_URL",
        raw_base or creds.get("base_url") or DEFAULT_BASE_URL,
    )

    # A generic OTLP receiver (an OpenTelemetry Collector, another vendor) named by
    # otlp_endpoint= or the standard OTEL_* variables takes no aither key; base_url is the
    # aither server, whose ingest needs one.
    endpoint, endpoint_name = _pick(arguments.get("otlp_endpoint"), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if endpoint is None:
        generic = env("OTEL_EXPORTER_OTLP_ENDPOINT")
        if generic is not None:
            endpoint = validate_url("OTEL_EXPORTER_OTLP_ENDPOINT", generic) + "/v1/traces"
    else:
        endpoint = validate_url(endpoint_name or "otlp_endpoint", endpoint)
    traces_endpoint = endpoint or base + "/v1/traces"

    key, key_source = _pick(arguments.get("api_key"), "AITHER_API_KEY")
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
    raw_headers = env("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or env("OTEL_EXPORTER_OTLP_HEADERS")
    if raw_headers:
        headers.update(_parse_headers(raw_headers))
    if key is not None:
        headers["authorization"] = f"Bearer {key}"

    if (values["client_key_file"] is None) != (values["client_certificate_file"] is None):
        raise ConfigError("client_key_file and client_certificate_file go together (mutual TLS): give both")
    on_error = arguments.get("on_error")
    if on_error is not None and not callable(on_error):
        raise ConfigError(f"on_error must be a callable taking an exception, got {on_error!r}")
    redact_keys = arguments.get("redact_keys")
    if redact_keys is not None and isinstance(redact_keys, (str, bytes)):
        raise ConfigError("redact_keys must be a list of key names, not one string")

    limits = SampleLimits(
        rows=cast(int, values.pop("sample_rows")),
        columns=cast(int, values.pop("sample_columns")),
        prediction_rows=cast(int, values.pop("prediction_rows")),
    )
    return Settings(
        api_key=key,
        base_url=base,
        traces_endpoint=traces_endpoint,
        headers=headers,
        enabled=is_enabled,
        limits=limits,
        redact_keys=frozenset(k.lower() for k in (redact_keys or ())),
        on_error=on_error,
        **values,  # type: ignore[arg-type]  # each parsed by its kind, checked by the table's test
    )
