"""The one exception tree of aither.

::

    AitherError
     ├── ConfigError(ValueError)           a setting or an argument is wrong; the message says how to fix it
 │    └── ArgumentTypeError(TypeError)  an argument of the wrong type (``metadata`` not a mapping...)
     ├── InvalidTraceId(ValueError)        a trace id is not 32 hex digits
     ├── AmbiguousLabel(ValueError)        a label could belong to several predictions; name the model
     ├── FrameworkNotInstalled(ImportError) the object's framework extra is not installed
     ├── DeliveryError                     spans could not be delivered (given to on_error, never raised)
     └── APIError                          the management API answered with an error
          ├── AuthenticationError           401: no key, a wrong key, a revoked key
          ├── PermissionDenied              403: the key lacks the scope
          ├── NotFound                      404
          ├── Conflict                      409
          ├── RateLimited                   429
          └── ServerError                   5xx, or an answer that is not the API's
               └── ServerUnreachable        the server could not be reached (connection, DNS, timeout)

``aither.server.storage.DatabaseURLError`` (the server's database URL can't be used) is a
``ConfigError``.

Errors inside aither's own instrumentation never reach the caller: they are counted in
:func:`aither.stats`, logged once and passed to ``on_error``. The errors above are raised
only for a mistake of the caller's, at the call that made it.
"""

from __future__ import annotations


class AitherError(Exception):
    """Base of every exception aither raises."""


class ConfigError(AitherError, ValueError):
    """A setting or an argument is invalid; the message says how to fix it."""


class ArgumentTypeError(ConfigError, TypeError):
    """An argument has the wrong type; a ``TypeError`` too, so ``except TypeError`` still works."""


class InvalidTraceId(AitherError, ValueError):
    """A trace id is not 32 hexadecimal digits (the W3C trace-context form)."""


class DeliveryError(AitherError):
    """Spans could not be delivered: what ``on_error`` is given (never raised to the caller).

    Reported at most once a minute per cause; ``failures`` and ``spans`` count the failed
    export requests and their spans since the last report of this cause.

    Attributes:
        cause: why, as the exporter said it (``Failed to export span batch code: 401, ...``).
        failures: failed requests of this cause since its last report.
        spans: spans in those requests (counted as ``failed`` in :func:`aither.stats`).
        endpoint: where they were sent.
    """

    def __init__(self, cause: str, *, failures: int, spans: int, endpoint: str) -> None:
        super().__init__(f"{spans} spans in {failures} requests to {endpoint} were not delivered: {cause}")
        self.cause = cause
        self.failures = failures
        self.spans = spans
        self.endpoint = endpoint


class AmbiguousLabel(AitherError, ValueError):
    """A label's trace holds several predictions and the label does not say which it is for."""


class FrameworkNotInstalled(AitherError, ImportError):
    """The object belongs to a framework whose aither extra is not installed."""

    def __init__(self, framework: str, extra: str) -> None:
        self.framework = framework
        self.extra = extra
        super().__init__(
            f"{framework} is not installed or failed to import; "
            f"install it with: pip install 'aither[{extra}]'"
        )


class APIError(AitherError):
    """The aither management API answered with an error."""

    def __init__(self, message: str, *, status_code: int | None = None, body: object = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class AuthenticationError(APIError):
    """401: the API key is missing, wrong or revoked."""


class PermissionDenied(APIError):
    """403: the API key lacks the scope the call needs."""


class NotFound(APIError):
    """404: no such object in this organisation."""


class Conflict(APIError):
    """409: the object already exists or is in a conflicting state."""


class RateLimited(APIError):
    """429: too many requests."""


class ServerError(APIError):
    """5xx, or an answer that is not the API's (not JSON, not the expected shape)."""


class ServerUnreachable(ServerError):
    """The server could not be reached: refused, DNS, TLS, timeout (``__cause__`` is httpx's
    error). A :class:`ServerError`, so ``except ServerError`` catches both; catch this one
    first to tell "down" from "failing"."""
