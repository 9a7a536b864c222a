"""The resources of the management and query API, and what the sync and async clients share.

Each resource lists its endpoints once (see :mod:`._endpoint`); ``OrgResource[Blocking]``
belongs to :class:`~aither.api.ManagementClient`, ``OrgResource[Awaited]`` to
:class:`~aither.api.AsyncManagementClient`. The clients differ only in how they wait for httpx.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import httpx

from .._version import __version__
from ..exceptions import ServerError
from . import _calls as calls
from ._calls import Call, check, resolve_target
from ._detection import AnomaliesResource, RulesResource, StatsResource
from ._endpoint import Endpoint, M, Pages, Resource

T = TypeVar("T")


class OrgResource(Resource[M]):
    """The organisation of the API key."""

    get = Endpoint(calls.org_get)
    usage = Endpoint(calls.org_usage)


class UserResource(Resource[M]):
    """Users of the organisation."""

    me = Endpoint(calls.user_me)
    list = Endpoint(calls.user_list)
    create = Endpoint(calls.user_create)


class ApiKeysResource(Resource[M]):
    """API keys of the organisation; every call needs the ``admin`` scope."""

    list = Endpoint(calls.api_keys_list)
    create = Endpoint(calls.api_keys_create)
    revoke = Endpoint(calls.api_keys_revoke)


class ModelsResource(Resource[M]):
    """Models that sent predictions, and their metrics; needs ``read``."""

    list = Endpoint(calls.models_list)
    metrics = Endpoint(calls.models_metrics)


class PredictionsResource(Resource[M]):
    """Stored predictions, newest first; needs ``read``."""

    list = Endpoint(calls.predictions_list)
    iter = Pages(list)


class LabelsResource(Resource[M]):
    """Label spans and where the join put them; needs ``read``."""

    list = Endpoint(calls.labels_list)


class LlmCallsResource(Resource[M]):
    """LLM calls, newest first; needs ``read``."""

    list = Endpoint(calls.llm_calls_list)
    totals = Endpoint(calls.llm_calls_totals)


class TracesResource(Resource[M]):
    """Whole traces; needs ``read``."""

    get = Endpoint(calls.traces_get)


H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class ClientBase(Generic[M, H]):
    """The target, the resources and the request of a management client, sync or async.

    Args:
        api_key: the key (default: the default aither client's, from ``AITHER_API_KEY`` or
            the credentials file).
        base_url: the server (default: the default aither client's; else the injected http
            client's ``base_url``).
        http_client: an ``httpx.Client`` (``httpx.AsyncClient`` for the async client) to send
            with (tests, proxies, custom TLS); the caller closes it.
        timeout: seconds per request when the client makes its own http client.
    """

    _awaited = False
    """True for the async client: its resources' methods are coroutine functions."""
    _http_class: type[H]
    """The http client it makes when none is given."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        http_client: H | None = None,
        timeout: float = 10.0,
    ) -> None:
        if base_url is None and http_client is not None and str(http_client.base_url):
            base_url = str(http_client.base_url)
        self.api_key, self.base_url = resolve_target(api_key, base_url)
        self._http: H = http_client if http_client is not None else self._http_class(timeout=timeout)
        self._owns_http = http_client is None
        awaited = self._awaited
        self.org: OrgResource[M] = OrgResource(lambda: self, awaited)
        self.user: UserResource[M] = UserResource(lambda: self, awaited)
        self.api_keys: ApiKeysResource[M] = ApiKeysResource(lambda: self, awaited)
        self.models: ModelsResource[M] = ModelsResource(lambda: self, awaited)
        self.predictions: PredictionsResource[M] = PredictionsResource(lambda: self, awaited)
        self.labels: LabelsResource[M] = LabelsResource(lambda: self, awaited)
        self.traces: TracesResource[M] = TracesResource(lambda: self, awaited)
        self.llm_calls: LlmCallsResource[M] = LlmCallsResource(lambda: self, awaited)
        self.anomalies: AnomaliesResource[M] = AnomaliesResource(lambda: self, awaited)
        self.stats: StatsResource[M] = StatsResource(lambda: self, awaited)
        self.rules: RulesResource[M] = RulesResource(lambda: self, awaited)

    def send(self, call: Call[T]) -> Any:
        """Send one call and parse its answer (the resources' single way out)."""
        raise NotImplementedError

    def _request(self, call: Call[Any]) -> dict[str, Any]:
        """The keyword arguments of httpx's ``request`` for ``call``."""
        headers = {"Authorization": f"Bearer {self.api_key}", "User-Agent": f"aither-python/{__version__}"}
        return {
            "method": call.method,
            "url": self.base_url + call.path,
            "params": call.params or None,
            "json": call.json,
            "headers": headers,
        }

    def _answer(self, call: Call[T], response: httpx.Response) -> T:
        """The parsed answer; the exception of its HTTP status, or ServerError if it can't be read."""
        data = check(response)
        try:
            return call.parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ServerError(f"unexpected answer from {call.method} {call.path}: {exc!r}") from exc

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"
