"""The synchronous management client, and the default one behind ``aither.org``, ``aither.user``..."""

from __future__ import annotations

import atexit
import threading
from types import TracebackType
from typing import TypeVar

import httpx

from . import _calls as calls
from ._calls import Call, unreachable
from ._endpoint import Blocking
from ._resources import ClientBase

T = TypeVar("T")


class ManagementClient(ClientBase[Blocking, httpx.Client]):
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

    _http_class = httpx.Client

    def send(self, call: Call[T]) -> T:
        """Send one call and parse its answer (the resources' single way out)."""
        try:
            response = self._http.request(**self._request(call))
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        return self._answer(call, response)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


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
    api_key, base_url = calls.resolve_target(None, None)
    with _default_lock:
        current = _default
        if current is None or (current.api_key, current.base_url) != (api_key, base_url):
            if _shared_http is None:
                _shared_http = httpx.Client(timeout=10.0)
                atexit.register(_close_shared_http)
            current = _default = ManagementClient(api_key, base_url, http_client=_shared_http)
        return current
