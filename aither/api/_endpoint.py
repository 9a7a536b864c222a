"""One definition per API endpoint, served to the sync and the async client alike.

An endpoint is its call builder in :mod:`._calls` (parameters, path, query, parser and the
docstring). A resource class declares it once, ``get = Endpoint(calls.org_get)``, and is
generic in its client's way of waiting: ``OrgResource[Blocking]`` hangs off
:class:`~aither.api.ManagementClient` and ``OrgResource[Awaited]`` off
:class:`~aither.api.AsyncManagementClient`. Type checkers see ``client.org.get() ->
Organization`` on the first and ``await client.org.get()`` on the second; at run time the
only difference is whether the method awaits the client's ``send``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from ..schema.results import Page
from ._calls import Call

if TYPE_CHECKING:
    from ._resources import ClientBase

P = ParamSpec("P")
T = TypeVar("T")


class Blocking:
    """The mode of :class:`~aither.api.ManagementClient`'s resources: a call returns the result."""


class Awaited:
    """The mode of :class:`~aither.api.AsyncManagementClient`'s resources: a call is awaited."""


M = TypeVar("M", Blocking, Awaited)


class Resource(Generic[M]):
    """A group of endpoints, bound to a client looked up at each call.

    Args:
        source: returns the client to send with (the default client's follows ``aither.init``).
        awaited: True for an async client: its methods are coroutine functions.
    """

    def __init__(self, source: Callable[[], ClientBase[M, Any]], awaited: bool = False) -> None:
        self._source: Callable[[], ClientBase[M, Any]] = source
        self._awaited = awaited


def _method_signature(build: Callable[..., Any]) -> inspect.Signature:
    """The builder's parameters, returning what its ``Call[...]`` parses (for ``help()``)."""
    signature = inspect.signature(build)
    returns = signature.return_annotation
    if isinstance(returns, str) and returns.startswith("Call[") and returns.endswith("]"):
        returns = returns[len("Call[") : -1]
    return signature.replace(return_annotation=returns)


_SELF = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)


class _Member:
    """What :class:`Endpoint` and :class:`Pages` share: the name, docstring and signature
    their methods show in ``help()``."""

    _name = ""
    __signature__: inspect.Signature

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    def _bind(self, instance: Resource[Any]) -> Callable[..., Any]:
        raise NotImplementedError

    def _unbound(self) -> Callable[..., Any]:
        def method(resource: Resource[Any], /, *args: Any, **kwargs: Any) -> Any:
            return self._bind(resource)(*args, **kwargs)

        return method

    def _method(self, instance: Resource[Any] | None, owner: type[Any]) -> Callable[..., Any]:
        """The method of ``instance``; read from the class, a function taking the resource first."""
        signature = self.__signature__
        if instance is None:
            method = self._unbound()
            signature = signature.replace(parameters=[_SELF, *signature.parameters.values()])
        else:
            method = self._bind(instance)
        method.__name__ = self._name
        method.__qualname__ = f"{owner.__qualname__}.{self._name}"
        method.__doc__ = self.__doc__
        method.__signature__ = signature  # type: ignore[attr-defined]
        return method


class Endpoint(_Member, Generic[P, T]):
    """A resource method that sends the call its builder makes and returns the parsed answer."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__
        self.__signature__ = _method_signature(build)

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Callable[Concatenate[Any, P], Any]: ...

    @overload
    def __get__(self, instance: Resource[Blocking], owner: type[Any]) -> Callable[P, T]: ...

    @overload
    def __get__(
        self, instance: Resource[Awaited], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, instance: Resource[Any] | None, owner: type[Any]) -> Any:
        return self._method(instance, owner)

    def _bind(self, instance: Resource[Any]) -> Callable[..., Any]:
        build, source = self._build, instance._source
        method: Callable[..., Any]
        if instance._awaited:

            async def method(*args: Any, **kwargs: Any) -> Any:
                return await source().send(build(*args, **kwargs))
        else:

            def method(*args: Any, **kwargs: Any) -> Any:
                return source().send(build(*args, **kwargs))

        return method


class Pages(_Member, Generic[P, T]):
    """Every item of a paged endpoint, page after page; takes the endpoint's filters.

    ``cursor=`` (default: the first page) is where it starts.
    """

    def __init__(self, endpoint: Endpoint[P, Page[T]]) -> None:
        self._endpoint = endpoint
        self.__signature__ = endpoint.__signature__.replace(return_annotation=inspect.Signature.empty)

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Callable[Concatenate[Any, P], Any]: ...

    @overload
    def __get__(self, instance: Resource[Blocking], owner: type[Any]) -> Callable[P, Iterator[T]]: ...

    @overload
    def __get__(self, instance: Resource[Awaited], owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...

    def __get__(self, instance: Resource[Any] | None, owner: type[Any]) -> Any:
        return self._method(instance, owner)

    def _bind(self, instance: Resource[Any]) -> Callable[..., Any]:
        page_of = self._endpoint._bind(instance)
        method: Callable[..., Any]
        if instance._awaited:

            async def method(*args: Any, cursor: str | None = None, **kwargs: Any) -> Any:
                while True:
                    page = await page_of(*args, cursor=cursor, **kwargs)
                    for item in page.items:
                        yield item
                    if page.next_cursor is None:
                        return
                    cursor = page.next_cursor
        else:

            def method(*args: Any, cursor: str | None = None, **kwargs: Any) -> Any:
                while True:
                    page = page_of(*args, cursor=cursor, **kwargs)
                    yield from page.items
                    if page.next_cursor is None:
                        return
                    cursor = page.next_cursor

        return method
