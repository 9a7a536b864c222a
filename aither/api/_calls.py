"""What each API call sends and how its answer is read: shared by the sync and async clients.

A :class:`Call` is pure data (method, path, query, body, parser); the clients only send it,
so the two stay one behaviour with two ways of waiting. Each builder below is one endpoint:
its parameters and docstring are those of the resource method that declares it
(:mod:`._resources`, through :class:`._endpoint.Endpoint`), for both clients.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ..exceptions import (
    APIError,
    AuthenticationError,
    ConfigError,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ServerUnreachable,
)
from ..schema.results import (
    APIKey,
    CreatedAPIKey,
    Label,
    LlmCall,
    LlmCallTotal,
    Model,
    ModelMetrics,
    Organization,
    Page,
    Prediction,
    Usage,
    User,
)
from ._types import Trace

T = TypeVar("T")
Time = dt.datetime | str | None
"""A time argument: a datetime, an ISO 8601 string, or ``24h``/``7d``/``30m`` (that long ago)."""
API = "/api/v1"
SCOPES = ("read", "write", "admin")

_ERRORS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and the parser of its JSON answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None


def resolve_target(api_key: str | None, base_url: str | None) -> tuple[str, str]:
    """(api key, base URL): the arguments, else those of aither's default client.

    The default client reads ``AITHER_API_KEY`` / ``AITHER_BASE_URL``, else the credentials
    file ``aither server`` wrote, else ``http://127.0.0.1:4680``.
    """
    from .._config import resolve_settings, validate_url

    if api_key is None or base_url is None:
        try:
            from .._client import default_client

            settings = default_client().settings
        except ConfigError:
            settings = resolve_settings(api_key=api_key, base_url=base_url, require_api_key=False)
        api_key = api_key if api_key is not None else settings.api_key
        base_url = base_url if base_url is not None else settings.base_url
    if not api_key:
        raise ConfigError(
            "no aither API key: pass api_key=, set AITHER_API_KEY, or run `aither server` once "
            "(it writes ~/.aither/credentials.json)"
        )
    return api_key, validate_url("base_url", base_url)


def _message(response: httpx.Response) -> tuple[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return (response.text.strip()[:500] or response.reason_phrase), response.text
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # a validation error: one line per field
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts), body
    return str(detail), body


def check(response: httpx.Response) -> Any:
    """The JSON of a successful answer; the matching :class:`APIError` otherwise."""
    if response.is_success:
        try:
            return response.json()
        except ValueError as exc:
            raise ServerError(
                f"the server answered {response.request.url} with something that is not JSON",
                status_code=response.status_code,
            ) from exc
    message, body = _message(response)
    status = response.status_code
    kind = _ERRORS.get(status) or (ServerError if status >= 500 else APIError)
    request = response.request
    raise kind(f"{request.method} {request.url.path}: {status} {message}", status_code=status, body=body)


def unreachable(base_url: str, exc: httpx.HTTPError) -> ServerUnreachable:
    return ServerUnreachable(
        f"could not reach the aither server at {base_url} ({type(exc).__name__}: {exc}); "
        "is it running? Start one with: aither server"
    )


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """``24h``, ``7d``, ``30m`` (that long ago) or an ISO 8601 time; ConfigError (a ValueError) otherwise."""
    match = _RELATIVE.match(text.strip().lower())
    if match:
        delta = dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return (now or dt.datetime.now(dt.timezone.utc)) - delta
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{text!r} is not a time: use 24h, 7d, 30m or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _time(value: dt.datetime | str | None) -> str | None:
    """A time parameter for the API: a datetime, an ISO 8601 string, or ``24h``-style (ago)."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse_when(value).isoformat()
    return value.isoformat()


_TIMES = frozenset({"since", "until", "updated_since"})
"""Query parameters that are times: they take ``24h``-style strings too (see :func:`_time`)."""


def _query(**params: Any) -> dict[str, Any]:
    """The query string of a call: None left out, booleans as ``true``/``false``, times as ISO 8601."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in _TIMES:
            value = _time(value)
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dt.datetime):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


def _list(parse: Callable[[Any], T]) -> Callable[[Any], tuple[T, ...]]:
    return lambda data: tuple(parse(item) for item in data)


def _page(parse: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
    return lambda data: Page(tuple(parse(item) for item in data["items"]), data.get("next_cursor"))


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


# --- the calls: each builder's signature and docstring are its resource method's -------------


def org_get() -> Call[Organization]:
    """The organisation. Any valid key may ask.

    Example:
        >>> aither.org.get().name  # doctest: +SKIP
        'default'
    """
    return Call("GET", f"{API}/org", Organization.from_json)


def org_usage() -> Call[Usage]:
    """Usage of the current calendar month (UTC); needs the ``read`` or ``admin`` scope.

    Example:
        >>> aither.org.usage().predictions  # doctest: +SKIP
        1200
    """
    return Call("GET", f"{API}/org/usage", Usage.from_json)


def user_me() -> Call[User]:
    """The user the API key belongs to.

    Example:
        >>> aither.user.me().email  # doctest: +SKIP
        'admin@localhost'
    """
    return Call("GET", f"{API}/users/me", User.from_json)


def user_list() -> Call[tuple[User, ...]]:
    """Every user of the organisation; needs ``admin``."""
    return Call("GET", f"{API}/users", _list(User.from_json))


def user_create(*, email: str, name: str | None = None, role: str = "member") -> Call[User]:
    """Add a user (``role`` ``member`` or ``admin``); needs ``admin``. Conflict if the email exists."""
    return Call(
        "POST", f"{API}/users", User.from_json, json={"email": email, "name": name or "", "role": role}
    )


def api_keys_list() -> Call[tuple[APIKey, ...]]:
    """Every key, revoked ones included; secrets are never listed."""
    return Call("GET", f"{API}/api-keys", _list(APIKey.from_json))


def api_keys_create(
    *, name: str, scopes: Sequence[str] = ("read", "write"), user_id: str | None = None
) -> Call[CreatedAPIKey]:
    """Create a key; its ``secret`` is in this result only. Scopes: ``read``, ``write``, ``admin``.

    A key can't create a key with scopes it lacks (PermissionDenied).

    Example:
        >>> key = aither.api_keys.create(name="ci", scopes=["write"])  # doctest: +SKIP
        >>> key.secret  # doctest: +SKIP
        'aith_...'
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"name must be a non-empty string, got {name!r}")
    wanted = list(scopes) if scopes is not None else ["read", "write"]
    unknown = [scope for scope in wanted if scope not in SCOPES]
    if isinstance(scopes, str) or unknown or not wanted:
        raise ConfigError(f"scopes must be a non-empty list of {', '.join(SCOPES)}; got {scopes!r}")
    body: dict[str, Any] = {"name": name, "scopes": wanted}
    if user_id is not None:
        body["user_id"] = user_id
    return Call("POST", f"{API}/api-keys", CreatedAPIKey.from_json, json=body)


def api_keys_revoke(key_id: str) -> Call[APIKey]:
    """Revoke a key; the server refuses it from the next request on. NotFound for unknown ids."""
    return Call("DELETE", f"{API}/api-keys/{_segment(key_id, 'key_id')}", APIKey.from_json)


def models_list(*, since: Time = None, until: Time = None) -> Call[tuple[Model, ...]]:
    """One entry per model and version."""
    return Call("GET", f"{API}/models", _list(Model.from_json), params=_query(since=since, until=until))


def models_metrics(
    name: str,
    *,
    version: str | None = None,
    environment: str | None = None,
    since: Time = None,
    until: Time = None,
) -> Call[ModelMetrics]:
    """Per-version metrics of a model over a window (all time by default). NotFound if unknown.

    Example:
        >>> client.models.metrics("fraud").versions[0].classification.accuracy  # doctest: +SKIP
        0.94
    """
    return Call(
        "GET",
        f"{API}/models/{_segment(name, 'model name')}/metrics",
        ModelMetrics.from_json,
        params=_query(version=version, environment=environment, since=since, until=until),
    )


def predictions_list(
    *,
    model: str | None = None,
    version: str | None = None,
    environment: str | None = None,
    since: Time = None,
    until: Time = None,
    labelled: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Call[Page[Prediction]]:
    """A page of predictions, newest first; ``labelled`` True/False keeps only labelled/unlabelled ones."""
    filters = locals()
    return Call("GET", f"{API}/predictions", _page(Prediction.from_json), params=_query(**filters))


def labels_list(
    *, status: str | None = None, model: str | None = None, limit: int = 50, cursor: str | None = None
) -> Call[Page[Label]]:
    """A page of labels; ``status`` one of joined, pending, ambiguous, invalid."""
    filters = locals()
    return Call("GET", f"{API}/labels", _page(Label.from_json), params=_query(**filters))


def llm_calls_list(
    *,
    model: str | None = None,
    provider: str | None = None,
    pii: bool | None = None,
    injection: bool | None = None,
    error: bool | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    service: str | None = None,
    risk: str | None = None,
    since: Time = None,
    until: Time = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Call[Page[LlmCall]]:
    """A page of LLM calls, newest first; ``model`` matches the request or response model;
    ``pii``, ``injection``, ``error`` True/False keep only flagged/unflagged (or failed/ok)
    calls; ``risk`` (``low``, ``medium``, ``high``, ``critical``) keeps that risk level and above."""
    filters = locals()
    return Call("GET", f"{API}/llm-calls", _page(LlmCall.from_json), params=_query(**filters))


def llm_calls_totals(
    *, group_by: str = "user", since: Time = None, until: Time = None, limit: int = 100
) -> Call[tuple[LlmCallTotal, ...]]:
    """Calls, errors, tokens and cost per ``user``, ``session``, ``service``, ``model`` or
    ``provider``, costliest first (cost per user: ``totals(group_by="user")``)."""

    def parse(data: Any) -> tuple[LlmCallTotal, ...]:
        return tuple(LlmCallTotal.from_json(item) for item in data["items"])

    params = _query(group_by=group_by, since=since, until=until, limit=limit)
    return Call("GET", f"{API}/llm-calls/totals", parse, params=params)


def traces_get(trace_id: str) -> Call[Trace]:
    """A trace's spans, predictions, labels, LLM calls and operations. NotFound if unknown."""
    return Call("GET", f"{API}/traces/{_segment(trace_id, 'trace_id')}", Trace.from_json)
