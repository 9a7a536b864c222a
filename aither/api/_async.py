"""The asynchronous twin of :class:`~aither.api.ManagementClient`: same resources, awaited."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from .._version import __version__
from ..exceptions import ServerError
from . import _calls as calls
from ._calls import Call, check, resolve_target, unreachable
from ._detection import AsyncAnomaliesResource, AsyncRulesResource, AsyncStatsResource
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


class _AsyncResource:
    def __init__(self, client: AsyncManagementClient) -> None:
        self._client = client


class AsyncOrgResource(_AsyncResource):
    async def get(self) -> Organization:
        """The organisation of the API key."""
        return await self._client.send(calls.org_get())

    async def usage(self) -> Usage:
        """Usage of the current calendar month (UTC)."""
        return await self._client.send(calls.org_usage())


class AsyncUserResource(_AsyncResource):
    async def me(self) -> User:
        """The user the API key belongs to."""
        return await self._client.send(calls.user_me())

    async def list(self) -> tuple[User, ...]:
        """Every user of the organisation; needs ``admin``."""
        return await self._client.send(calls.user_list())

    async def create(self, *, email: str, name: str | None = None, role: str = "member") -> User:
        """Add a user; needs ``admin``."""
        return await self._client.send(calls.user_create(email, name, role))


class AsyncApiKeysResource(_AsyncResource):
    async def list(self) -> tuple[APIKey, ...]:
        """Every key, secrets never included; needs ``admin``."""
        return await self._client.send(calls.api_keys_list())

    async def create(
        self, *, name: str, scopes: Sequence[str] = ("read", "write"), user_id: str | None = None
    ) -> CreatedAPIKey:
        """Create a key; its ``secret`` is in this result only."""
        return await self._client.send(calls.api_keys_create(name, scopes, user_id))

    async def revoke(self, key_id: str) -> APIKey:
        """Revoke a key; refused by the server from the next request on."""
        return await self._client.send(calls.api_keys_revoke(key_id))


class AsyncModelsResource(_AsyncResource):
    async def list(self, *, since: Time = None, until: Time = None) -> tuple[Model, ...]:
        """One entry per model and version."""
        return await self._client.send(calls.models_list(since, until))

    async def metrics(
        self,
        name: str,
        *,
        version: str | None = None,
        environment: str | None = None,
        since: Time = None,
        until: Time = None,
    ) -> ModelMetrics:
        """Per-version metrics of a model over a window."""
        return await self._client.send(calls.models_metrics(name, version, environment, since, until))


class AsyncPredictionsResource(_AsyncResource):
    async def list(
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
        """A page of predictions, newest first."""
        call = calls.predictions_list(
            model=model,
            version=version,
            environment=environment,
            since=since,
            until=until,
            labelled=labelled,
            limit=limit,
            cursor=cursor,
        )
        return await self._client.send(call)

    async def iter(self, **filters: object) -> AsyncIterator[Prediction]:
        """Every matching prediction, page after page."""
        cursor: str | None = None
        while True:
            page = await self.list(**filters, cursor=cursor)  # type: ignore[arg-type]
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class AsyncLabelsResource(_AsyncResource):
    async def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Label]:
        """A page of labels and where the join put them."""
        return await self._client.send(
            calls.labels_list(status=status, model=model, limit=limit, cursor=cursor)
        )


class AsyncLlmCallsResource(_AsyncResource):
    async def list(
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
        """A page of LLM calls, newest first."""
        call = calls.llm_calls_list(
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
        return await self._client.send(call)

    async def totals(
        self, *, group_by: str = "user", since: Time = None, until: Time = None, limit: int = 100
    ) -> tuple[LlmCallTotal, ...]:
        """Calls, errors, tokens and cost per user, session, service, model or provider."""
        return await self._client.send(
            calls.llm_calls_totals(group_by, since=since, until=until, limit=limit)
        )


class AsyncTracesResource(_AsyncResource):
    async def get(self, trace_id: str) -> Trace:
        """A whole trace."""
        return await self._client.send(calls.traces_get(trace_id))


class AsyncManagementClient:
    """The async management client: ``await client.org.get()``; use it with ``async with``.

    Takes the arguments of :class:`~aither.api.ManagementClient`, with an ``httpx.AsyncClient``.

    Example:
        >>> async with AsyncManagementClient() as client:  # doctest: +SKIP
        ...     usage = await client.org.usage()
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        if base_url is None and http_client is not None and str(http_client.base_url):
            base_url = str(http_client.base_url)
        self.api_key, self.base_url = resolve_target(api_key, base_url)
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._owns_http = http_client is None
        self.org = AsyncOrgResource(self)
        self.user = AsyncUserResource(self)
        self.api_keys = AsyncApiKeysResource(self)
        self.models = AsyncModelsResource(self)
        self.predictions = AsyncPredictionsResource(self)
        self.labels = AsyncLabelsResource(self)
        self.traces = AsyncTracesResource(self)
        self.llm_calls = AsyncLlmCallsResource(self)
        self.anomalies = AsyncAnomaliesResource(self)
        self.stats = AsyncStatsResource(self)
        self.rules = AsyncRulesResource(self)

    async def send(self, call: Call[T]) -> T:
        """Send one call and parse its answer."""
        headers = {"Authorization": f"Bearer {self.api_key}", "User-Agent": f"aither-python/{__version__}"}
        try:
            response = await self._http.request(
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

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncManagementClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncManagementClient(base_url={self.base_url!r})"
