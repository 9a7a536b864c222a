"""The synchronous management client and its resources (``org``, ``user``, ``api_keys``...)."""

from __future__ import annotations

import atexit
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from .._version import __version__
from ..exceptions import ServerError
from . import _calls as calls
from ._calls import Call, check, resolve_target, unreachable
from ._detection import AnomaliesResource, RulesResource, StatsResource
from ._types import (
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
    Trace,
    Usage,
    User,
)

T = TypeVar("T")
Time = dt.datetime | str | None


class _Resource:
    def __init__(self, source: Callable[[], ManagementClient]) -> None:
        self._source = source

    def _run(self, call: Call[T]) -> T:
        return self._source().send(call)


class OrgResource(_Resource):
    """The organisation of the API key."""

    def get(self) -> Organization:
        """The organisation. Any valid key may ask.

        Example:
            >>> aither.org.get().name  # doctest: +SKIP
            'default'
        """
        return self._run(calls.org_get())

    def usage(self) -> Usage:
        """Usage of the current calendar month (UTC); needs the ``read`` or ``admin`` scope.

        Example:
            >>> aither.org.usage().predictions  # doctest: +SKIP
            1200
        """
        return self._run(calls.org_usage())


class UserResource(_Resource):
    """Users of the organisation."""

    def me(self) -> User:
        """The user the API key belongs to.

        Example:
            >>> aither.user.me().email  # doctest: +SKIP
            'admin@localhost'
        """
        return self._run(calls.user_me())

    def list(self) -> tuple[User, ...]:
        """Every user of the organisation; needs ``admin``."""
        return self._run(calls.user_list())

    def create(self, *, email: str, name: str | None = None, role: str = "member") -> User:
        """Add a user (``role`` ``member`` or ``admin``); needs ``admin``. Conflict if the email exists."""
        return self._run(calls.user_create(email, name, role))


class ApiKeysResource(_Resource):
    """API keys of the organisation; every call needs the ``admin`` scope."""

    def list(self) -> tuple[APIKey, ...]:
        """Every key, revoked ones included; secrets are never listed."""
        return self._run(calls.api_keys_list())

    def create(
        self, *, name: str, scopes: Sequence[str] = ("read", "write"), user_id: str | None = None
    ) -> CreatedAPIKey:
        """Create a key; its ``secret`` is in this result only. Scopes: ``read``, ``write``, ``admin``.

        A key can't create a key with scopes it lacks (PermissionDenied).

        Example:
            >>> key = aither.api_keys.create(name="ci", scopes=["write"])  # doctest: +SKIP
            >>> key.secret  # doctest: +SKIP
            'aith_...'
        """
        return self._run(calls.api_keys_create(name, scopes, user_id))

    def revoke(self, key_id: str) -> APIKey:
        """Revoke a key; the server refuses it from the next request on. NotFound for unknown ids."""
        return self._run(calls.api_keys_revoke(key_id))


class ModelsResource(_Resource):
    """Models that sent predictions, and their metrics; needs ``read``."""

    def list(self, *, since: Time = None, until: Time = None) -> tuple[Model, ...]:
        """One entry per model and version."""
        return self._run(calls.models_list(since, until))

    def metrics(
        self,
        name: str,
        *,
        version: str | None = None,
        environment: str | None = None,
        since: Time = None,
        until: Time = None,
    ) -> ModelMetrics:
        """Per-version metrics of a model over a window (all time by default). NotFound if unknown.

        Example:
            >>> client.models.metrics("fraud").versions[0].classification.accuracy  # doctest: +SKIP
            0.94
        """
        return self._run(calls.models_metrics(name, version, environment, since, until))


class PredictionsResource(_Resource):
    """Stored predictions, newest first; needs ``read``."""

    def list(
        self,
        *,
        model: str | None = None,
        version: str | None = None,
        environment: str | None = None,
        since: Time = None,
        until: Time = None,
        labelled: bool | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Prediction]:
        """A page of predictions; ``labelled`` True/False keeps only labelled/unlabelled ones."""
        return self._run(
            calls.predictions_list(
                model=model,
                version=version,
                environment=environment,
                since=since,
                until=until,
                labelled=labelled,
                limit=limit,
                cursor=cursor,
            )
        )

    def iter(self, **filters: object) -> Iterator[Prediction]:
        """Every matching prediction, page after page (takes the filters of :meth:`list`)."""
        cursor: str | None = None
        while True:
            page = self.list(**filters, cursor=cursor)  # type: ignore[arg-type]
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class LabelsResource(_Resource):
    """Label spans and where the join put them; needs ``read``."""

    def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Label]:
        """A page of labels; ``status`` one of joined, pending, ambiguous, invalid."""
        return self._run(calls.labels_list(status=status, model=model, limit=limit, cursor=cursor))


class LlmCallsResource(_Resource):
    """LLM calls, newest first; needs ``read``."""

    def list(
        self,
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
    ) -> Page[LlmCall]:
        """A page of LLM calls; ``model`` matches the request or response model; ``pii``,
        ``injection``, ``error`` True/False keep only flagged/unflagged (or failed/ok) calls;
        ``risk`` (``low``, ``medium``, ``high``, ``critical``) keeps that risk level and above."""
        return self._run(
            calls.llm_calls_list(
                model=model,
                provider=provider,
                pii=pii,
                injection=injection,
                error=error,
                user_id=user_id,
                session_id=session_id,
                service=service,
                risk=risk,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
        )

    def totals(
        self, *, group_by: str = "user", since: Time = None, until: Time = None, limit: int = 100
    ) -> tuple[LlmCallTotal, ...]:
        """Calls, errors, tokens and cost per ``user``, ``session``, ``service``, ``model`` or
        ``provider``, costliest first (cost per user: ``totals(group_by="user")``)."""
        return self._run(calls.llm_calls_totals(group_by, since=since, until=until, limit=limit))


class TracesResource(_Resource):
    """Whole traces; needs ``read``."""

    def get(self, trace_id: str) -> Trace:
        """A trace's spans, predictions, labels, LLM calls and operations. NotFound if unknown."""
        return self._run(calls.traces_get(trace_id))


class ManagementClient:
    """A client of the aither server's management and query API.

    Args:
        api_key: the key (default: the default aither client's, from ``AITHER_API_KEY`` or
            the credentials file).
        base_url: the server (default: the default aither client's).
        http_client: an ``httpx.Client`` to send with (tests, proxies, custom TLS); the
            caller closes it.
        timeout: seconds per request when the client makes its own ``httpx.Client``.

    Thread-safe. HTTP errors raise the :class:`~aither.APIError` subclass of their status;
    a server that can't be reached raises :class:`~aither.ServerError`.

    Example:
        >>> client = ManagementClient(api_key="aith_...", base_url="http://127.0.0.1:4680")  # doctest: +SKIP
        >>> with client:  # doctest: +SKIP
        ...     print(client.org.usage().predictions)
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        if base_url is None and http_client is not None and str(http_client.base_url):
            base_url = str(http_client.base_url)
        self.api_key, self.base_url = resolve_target(api_key, base_url)
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)
        self._owns_http = http_client is None
        self.org = OrgResource(lambda: self)
        self.user = UserResource(lambda: self)
        self.api_keys = ApiKeysResource(lambda: self)
        self.models = ModelsResource(lambda: self)
        self.predictions = PredictionsResource(lambda: self)
        self.labels = LabelsResource(lambda: self)
        self.traces = TracesResource(lambda: self)
        self.llm_calls = LlmCallsResource(lambda: self)
        self.anomalies = AnomaliesResource(lambda: self)
        self.stats = StatsResource(lambda: self)
        self.rules = RulesResource(lambda: self)

    def send(self, call: Call[T]) -> T:
        """Send one call and parse its answer (the resources' single way out)."""
        headers = {"Authorization": f"Bearer {self.api_key}", "User-Agent": f"aither-python/{__version__}"}
        try:
            response = self._http.request(
                call.method,
                self.base_url + call.path,
                params=call.params or None,
                json=call.json,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        data = check(response)
        try:
            return call.parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ServerError(f"unexpected answer from {call.method} {call.path}: {exc!r}") from exc

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ManagementClient(base_url={self.base_url!r})"


_default_lock = threading.Lock()
_default: ManagementClient | None = None
_shared_http: httpx.Client | None = None


def _close_shared_http() -> None:
    if _shared_http is not None:
        _shared_http.close()


def default_management_client() -> ManagementClient:
    """The client behind ``aither.org``, ``aither.user`` and ``aither.api_keys``.

    It follows the default aither client: after ``aither.init(api_key=...)`` the next call
    uses the new key and URL. Every default client shares one connection pool, closed at exit.
    """
    global _default, _shared_http
    api_key, base_url = resolve_target(None, None)
    with _default_lock:
        current = _default
        if current is None or (current.api_key, current.base_url) != (api_key, base_url):
            if _shared_http is None:
                _shared_http = httpx.Client(timeout=10.0)
                atexit.register(_close_shared_http)
            current = _default = ManagementClient(api_key, base_url, http_client=_shared_http)
        return current
