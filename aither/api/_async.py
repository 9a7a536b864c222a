"""The asynchronous twin of :class:`~aither.api.ManagementClient`: same resources, awaited."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

import httpx

from ._calls import Call, unreachable
from ._endpoint import Awaited
from ._resources import ClientBase

T = TypeVar("T")


class AsyncManagementClient(ClientBase[Awaited, httpx.AsyncClient]):
    """The async management client: ``await client.org.get()``; use it with ``async with``.

    Takes the arguments of :class:`~aither.api.ManagementClient`, with an ``httpx.AsyncClient``.

    Example:
        >>> async with AsyncManagementClient() as client:  # doctest: +SKIP
        ...     usage = await client.org.usage()
    """

    _awaited = True
    _http_class = httpx.AsyncClient

    async def send(self, call: Call[T]) -> T:
        """Send one call and parse its answer."""
        try:
            response = await self._http.request(**self._request(call))
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        return self._answer(call, response)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncManagementClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()
