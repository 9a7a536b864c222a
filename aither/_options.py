"""The table of the SDK's settings: each option declared once.

Everything else follows from :data:`OPTIONS`: :func:`aither._config.resolve_settings` reads
and validates each one, :class:`aither._config.Settings` holds it (``field``), the README's
configuration table is :func:`readme_table` (``python -m aither._options`` prints it;
``tests/core/test_settings_table.py`` fails when the README differs), and the signature of
``aither.Client`` / ``aither.init`` is checked against it by the same test.

Precedence: argument > the first set variable of ``envs`` > ``default``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["bool", "int", "float", "str", "file", "choice", "custom"]
"""How a value is read: ``custom`` ones are read by code of their own in ``resolve_settings``
(the key and URLs, ``enabled``, ``redact_keys``, ``on_error``)."""

MIB: Final = 1024 * 1024


@dataclass(frozen=True)
class Option:
    """One setting.

    Attributes:
        name: the keyword of ``aither.init`` / ``aither.Client``; None for a variable that
            has no argument (``AITHER_DOTENV``).
        envs: environment variables, first set wins (after the argument).
        kind: how a value is parsed and checked.
        annotation: the argument's type as written in the signature.
        default: the value when nothing is given.
        doc: the README's "meaning" cell.
        shown_default: the README's "default" cell.
        minimum: lower bound of a number (inclusive).
        otel_scale: factor applied to a value read from an ``OTEL_*`` variable (ms -> s).
        otel_unit: the unit of those variables, shown in the README.
        field: the attribute of ``Settings`` that holds it (dotted); None when it is not kept.
        choices: allowed values of a ``choice``.
    """

    name: str | None
    envs: tuple[str, ...]
    kind: Kind
    annotation: str
    default: object
    doc: str
    shown_default: str
    minimum: float | None = None
    otel_scale: float = 1.0
    otel_unit: str = ""
    field: str | None = ""
    choices: tuple[str, ...] = ()

    @property
    def attribute(self) -> str | None:
        """Where ``Settings`` keeps the value: ``field``, or the option's own name."""
        return self.name if self.field == "" else self.field


def _bool(name: str, envs: tuple[str, ...], default: bool, doc: str) -> Option:
    return Option(name, envs, "bool", "bool | None", default, doc, "on" if default else "off")


OPTIONS: Final[tuple[Option, ...]] = (
    Option(
        "api_key",
        ("AITHER_API_KEY",),
        "custom",
        "str | None",
        None,
        "sent as `Authorization: Bearer`",
        "the key `aither server` wrote to `~/.aither/credentials.json`",
    ),
    Option(
        "base_url",
        ("AITHER_BASE_URL",),
        "custom",
        "str | None",
        "http://127.0.0.1:4680",
        "the aither server; spans go to `{base_url}/v1/traces`",
        "`http://127.0.0.1:4680`",
    ),
    Option(
        "otlp_endpoint",
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        "custom",
        "str | None",
        None,
        "any OTLP/HTTP receiver instead (a Collector); no key needed. `OTEL_EXPORTER_OTLP_ENDPOINT` "
        "is a base URL (`/v1/traces` is added)",
        "none",
        field="traces_endpoint",
    ),
    Option(
        "enabled",
        ("AITHER_ENABLED", "OTEL_SDK_DISABLED"),
        "custom",
        "bool | None",
        True,
        "off: every call is a plain pass-through (`OTEL_SDK_DISABLED=true` turns it off)",
        "on",
    ),
    Option(
        "service_name",
        ("AITHER_SERVICE_NAME", "OTEL_SERVICE_NAME"),
        "str",
        "str | None",
        None,
        "the resource's `service.name`",
        "none",
    ),
    Option(
        "environment",
        ("AITHER_ENVIRONMENT",),
        "str",
        "str | None",
        None,
        "the deployment (`production`, `staging`) on every span",
        "none",
    ),
    Option(
        "flush_interval",
        ("AITHER_FLUSH_INTERVAL", "OTEL_BSP_SCHEDULE_DELAY"),
        "float",
        "float | None",
        1.0,
        "seconds between batch exports",
        "1.0 s",
        minimum=0.001,
        otel_scale=0.001,
        otel_unit="ms",
    ),
    Option(
        "batch_size",
        ("AITHER_BATCH_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
        "int",
        "int | None",
        100,
        "spans per export request",
        "100",
        minimum=1,
    ),
    Option(
        "max_queue_size",
        ("AITHER_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"),
        "int",
        "int | None",
        100_000,
        "spans the queue holds; past it (or `max_queue_bytes`), spans are dropped and counted; "
        "the caller never waits",
        "100,000 spans",
        minimum=1,
    ),
    Option(
        "max_queue_bytes",
        ("AITHER_MAX_QUEUE_BYTES",),
        "int",
        "int | None",
        256 * MIB,
        "bytes of samples the queue holds (at least 1024)",
        "256 MiB",
        minimum=1024,
    ),
    Option(
        "export_timeout",
        ("AITHER_EXPORT_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
        "float",
        "float | None",
        10.0,
        "seconds per export request, the exporter's retries included",
        "10 s",
        minimum=0.001,
    ),
    Option(
        "shutdown_timeout",
        ("AITHER_SHUTDOWN_TIMEOUT",),
        "float",
        "float | None",
        5.0,
        "seconds the flush at exit may take",
        "5 s",
        minimum=0.0,
    ),
    Option(
        "sample_rows",
        ("AITHER_SAMPLE_ROWS",),
        "int",
        "int | None",
        5,
        "rows of a model's input a span keeps",
        "5",
        minimum=0,
        field="limits.rows",
    ),
    Option(
        "sample_columns",
        ("AITHER_SAMPLE_COLUMNS",),
        "int",
        "int | None",
        10,
        "columns of a model's input a span keeps",
        "10",
        minimum=0,
        field="limits.columns",
    ),
    Option(
        "prediction_rows",
        ("AITHER_PREDICTION_ROWS",),
        "int",
        "int | None",
        1_000,
        "rows of a model's output a span keeps",
        "1,000",
        minimum=0,
        field="limits.prediction_rows",
    ),
    Option(
        "redact_keys",
        (),
        "custom",
        "Iterable[str] | None",
        frozenset(),
        "dict keys replaced by `[REDACTED]` before anything is queued",
        "none",
    ),
    _bool(
        "raise_internal_errors",
        ("AITHER_RAISE_INTERNAL_ERRORS",),
        False,
        "re-raise aither's own internal errors instead of counting them (tests)",
    ),
    _bool(
        "capture_content",
        ("AITHER_CAPTURE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"),
        False,
        "record LLM prompts and completions (truncated, see docs/llm.md)",
    ),
    _bool(
        "capture_embeddings",
        ("AITHER_CAPTURE_EMBEDDINGS",),
        False,
        "record the first input's vector of wrapped embeddings calls (OpenAI `embeddings.create`, "
        "google-genai `embed_content`) as `aither.embedding.prompt` (float32, base64, at most 8,192 "
        "dimensions), for the server's embedding drift",
    ),
    _bool(
        "mask_pii",
        ("AITHER_MASK_PII",),
        False,
        "mask personal data found in captured LLM content before export (see docs/llm.md)",
    ),
    _bool(
        "openai_stream_usage",
        ("AITHER_OPENAI_STREAM_USAGE",),
        True,
        "ask OpenAI streams for their token usage (`stream_options.include_usage`) when the "
        "caller did not; off: requests are sent as made",
    ),
    Option(
        "trace_ids_size",
        ("AITHER_TRACE_IDS_SIZE",),
        "int",
        "int | None",
        1_000,
        "trace ids each wrapped model's `trace_ids` keeps. The original README called `trace_ids` "
        '"all predictions": it is the most recent ones, so a long-running service\'s memory stays '
        "bounded; keep `last_trace_id` after each call to keep every one",
        "1,000",
        minimum=0,
    ),
    _bool(
        "debug",
        ("AITHER_DEBUG",),
        False,
        "log each export request with its size (protobuf bytes) and result on the `aither` logger "
        "(a stderr handler is added if it has none)",
    ),
    Option(
        "max_retries",
        ("AITHER_MAX_RETRIES",),
        "int",
        "int | None",
        0,
        "re-sends of a failed request after the exporter's own retries (below)",
        "0",
        minimum=0,
    ),
    Option(
        "compression",
        ("AITHER_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"),
        "choice",
        "str | None",
        None,
        "`gzip` or `deflate` for export requests",
        "none",
        choices=("gzip", "deflate", "none"),
    ),
    Option(
        "certificate_file",
        (
            "AITHER_CERTIFICATE_FILE",
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        ),
        "file",
        "str | None",
        None,
        "TLS: the CA bundle to trust; checked to exist at `init()`",
        "system CAs",
    ),
    Option(
        "client_key_file",
        ("AITHER_CLIENT_KEY_FILE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY"),
        "file",
        "str | None",
        None,
        "TLS: the client key for mutual TLS (with `client_certificate_file`: both or neither)",
        "none",
    ),
    Option(
        "client_certificate_file",
        (
            "AITHER_CLIENT_CERTIFICATE_FILE",
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        ),
        "file",
        "str | None",
        None,
        "TLS: the client certificate for mutual TLS",
        "none",
    ),
    Option(
        "on_error",
        (),
        "custom",
        "Callable[[BaseException], object] | None",
        None,
        "called with each internal error of aither, and with an `aither.DeliveryError` (`cause`, "
        "`failures`, `spans`, `endpoint`) when spans could not be delivered: at most once a minute "
        "per cause, with the counts since the last report",
        "none",
    ),
    Option(
        None,
        ("AITHER_DOTENV",),
        "custom",
        "",
        None,
        "a `.env` file read before the settings (needs `aither[dotenv]`, python-dotenv); variables "
        "already set win",
        "none",
        field=None,
    ),
    Option(
        None,
        ("AITHER_HOME",),
        "custom",
        "",
        None,
        "the directory of the credentials file `aither server` writes (shared with the server)",
        "`~/.aither`",
        field=None,
    ),
)
"""Every setting of the SDK, in the README's order."""

ARGUMENTS: Final = frozenset(o.name for o in OPTIONS if o.name is not None)
"""The keywords of ``aither.init`` / ``aither.Client`` that are settings."""

BY_NAME: Final = {o.name: o for o in OPTIONS if o.name is not None}


def _environment_cell(option: Option) -> str:
    names = []
    for env in option.envs:
        unit = f" ({option.otel_unit})" if option.otel_unit and env.startswith("OTEL_") else ""
        names.append(f"`{env}`{unit}")
    return ", ".join(names)


def readme_table() -> str:
    """The README's configuration table (markdown), one row per option, from :data:`OPTIONS`."""
    rows = ["| argument | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for option in OPTIONS:
        argument = f"`{option.name}`" if option.name else ""
        rows.append(f"| {argument} | {_environment_cell(option)} | {option.shown_default} | {option.doc} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - the README's table: python -m aither._options
    print(readme_table(), end="")
