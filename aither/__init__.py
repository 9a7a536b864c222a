"""aither: watch ML models and LLM/agent calls in production.

One line to instrument (``aither.wrap(model)``), standard OpenTelemetry spans over OTLP/HTTP,
and a backend that starts with one command (``aither server``).
"""

from ._client import Client, init, unwrap
from ._default import (
    close,
    flush,
    last_trace_id,
    log_event,
    log_label,
    log_prediction,
    span,
    stats,
    track,
    wrap,
)
from ._version import __version__
from .adapters.proxy import TrackedModel
from .exceptions import (
    AitherError,
    AmbiguousLabel,
    APIError,
    AuthenticationError,
    ConfigError,
    Conflict,
    FrameworkNotInstalled,
    InvalidTraceId,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
)
from .export import Stats
from .sampling import SampleLimits

__all__ = [
    "APIError",
    "AitherError",
    "AmbiguousLabel",
    "AuthenticationError",
    "Client",
    "ConfigError",
    "Conflict",
    "FrameworkNotInstalled",
    "InvalidTraceId",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "SampleLimits",
    "ServerError",
    "Stats",
    "TrackedModel",
    "__version__",
    "close",
    "flush",
    "init",
    "last_trace_id",
    "log_event",
    "log_label",
    "log_prediction",
    "span",
    "stats",
    "track",
    "unwrap",
    "wrap",
]
