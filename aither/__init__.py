"""aither: watch ML models and LLM/agent calls in production.

One line to instrument (``aither.wrap(model)``), standard OpenTelemetry spans over OTLP/HTTP,
and a backend that starts with one command (``aither server``).
"""

import typing

from ._client import Client, init
from ._default import (
    close,
    flush,
    langchain_handler,
    last_trace_id,
    log_event,
    log_label,
    log_llm_call,
    log_prediction,
    span,
    stats,
    track,
    wrap,
)
from ._version import __version__
from ._wrap import unwrap
from .adapters.proxy import TrackedModel
from .exceptions import (
    AitherError,
    AmbiguousLabel,
    APIError,
    ArgumentTypeError,
    AuthenticationError,
    ConfigError,
    Conflict,
    DeliveryError,
    FrameworkNotInstalled,
    InvalidTraceId,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ServerUnreachable,
)
from .export import Stats
from .sampling import SampleLimits
from .schema.vocabulary import AnomalyType, DetectionMethod, RiskLevel, Severity
from .tracing.llm_record import LLMCall
from .tracing.scope import context

if typing.TYPE_CHECKING:
    from .api import (
        APIKey,
        CreatedAPIKey,
        Organization,
        Usage,
        User,
        anomalies,
        api_keys,
        org,
        set_reference,
        user,
    )
    from .api import AsyncManagementClient as AsyncAither

# The management API is httpx's: imported at first use, so that `import aither` stays light.
_MANAGEMENT_API = {
    "APIKey": "APIKey",
    "AsyncAither": "AsyncManagementClient",
    "CreatedAPIKey": "CreatedAPIKey",
    "Organization": "Organization",
    "Usage": "Usage",
    "User": "User",
    "anomalies": "anomalies",
    "api_keys": "api_keys",
    "org": "org",
    "set_reference": "set_reference",
    "user": "user",
}


def __getattr__(name: str) -> typing.Any:
    target = _MANAGEMENT_API.get(name)
    if target is None:
        raise AttributeError(f"module 'aither' has no attribute {name!r}")
    from . import api

    value = getattr(api, target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MANAGEMENT_API))


__all__ = [
    "APIError",
    "APIKey",
    "AitherError",
    "AmbiguousLabel",
    "AnomalyType",
    "ArgumentTypeError",
    "AsyncAither",
    "AuthenticationError",
    "Client",
    "ConfigError",
    "Conflict",
    "CreatedAPIKey",
    "DeliveryError",
    "DetectionMethod",
    "FrameworkNotInstalled",
    "InvalidTraceId",
    "LLMCall",
    "NotFound",
    "Organization",
    "PermissionDenied",
    "RateLimited",
    "RiskLevel",
    "SampleLimits",
    "ServerError",
    "ServerUnreachable",
    "Severity",
    "Stats",
    "TrackedModel",
    "Usage",
    "User",
    "__version__",
    "anomalies",
    "api_keys",
    "close",
    "context",
    "flush",
    "init",
    "langchain_handler",
    "last_trace_id",
    "log_event",
    "log_label",
    "log_llm_call",
    "log_prediction",
    "org",
    "set_reference",
    "span",
    "stats",
    "track",
    "unwrap",
    "user",
    "wrap",
]
