"""``@track``: a span around each call of a function, sync or async, plain or generator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from ..exceptions import ArgumentTypeError
from ..schema import semconv
from .spans import AitherSpan

if TYPE_CHECKING:
    from .._runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")

_SKIPPED_ARGS = frozenset({"self", "cls"})


class TrackOptions:
    """What ``@track`` records for one function."""

    __slots__ = ("capture_input", "capture_output", "event_type", "metadata", "name")

    def __init__(
        self,
        name: str,
        metadata: Mapping[str, Any] | None,
        capture_input: bool,
        capture_output: bool,
        event_type: str | None,
    ) -> None:
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ArgumentTypeError(f"metadata must be a mapping, got {type(metadata).__name__}")
        self.name = name
        self.metadata = dict(metadata) if metadata else None
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.event_type = event_type


def _plain_names(signature: inspect.Signature | None) -> tuple[str, ...] | None:
    """The parameter names of a signature of only plain parameters (positional or keyword,
    no ``*args``, ``**kwargs``, positional-only or keyword-only), else None."""
    if signature is None:
        return None
    kinds = {p.kind for p in signature.parameters.values()}
    if kinds - {inspect.Parameter.POSITIONAL_OR_KEYWORD}:
        return None
    return tuple(signature.parameters)


def _bound_arguments(
    signature: inspect.Signature | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    names: tuple[str, ...] | None = None,
) -> Any:
    """The call's arguments by name, in the signature's order, as ``bind_partial`` gives them
    (``self`` and ``cls`` left out). ``names`` (from :func:`_plain_names`) is the fast path
    for a plain signature: ``bind_partial`` costs several microseconds a call."""
    if names is not None and len(args) <= len(names) and (not kwargs or kwargs.keys() <= set(names)):
        given = len(args)
        bound = dict(zip(names, args, strict=False))
        if given and kwargs and any(name in kwargs for name in names[:given]):
            bound = {}  # an argument given twice: bind_partial's TypeError, below
        else:
            for name in names[given:] if kwargs else ():
                if name in kwargs:
                    bound[name] = kwargs[name]
            return {k: v for k, v in bound.items() if k not in _SKIPPED_ARGS}
    if signature is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        full = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    return {k: v for k, v in full.arguments.items() if k not in _SKIPPED_ARGS}


def instrument(
    get_runtime: Callable[[], Runtime | None],
    fn: Callable[P, R],
    options: TrackOptions,
) -> Callable[P, R]:
    """Wrap ``fn`` so each call runs in a function span of ``get_runtime()``.

    ``get_runtime`` is asked at each call (None means aither is disabled: a plain call), so
    a function decorated at import time uses whatever client is initialised when it runs.
    """
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None
    names = _plain_names(signature)

    def open_span(
        runtime: Runtime, args: tuple[Any, ...], kwargs: dict[str, Any], attach: bool = True
    ) -> AitherSpan | None:
        try:
            handle = AitherSpan(
                runtime,
                options.name,
                kind=semconv.SPAN_KIND_FUNCTION,
                span_type=options.event_type,
                metadata=options.metadata,
            )
            if options.capture_input:
                handle.set_input(_bound_arguments(signature, args, kwargs, names))
            return handle.start(attach=attach)
        except Exception as exc:
            runtime.internal_error(exc, f"starting the span of {options.name}")
            return None

    def close_span(
        runtime: Runtime, handle: AitherSpan | None, output: Any, exc: BaseException | None
    ) -> None:
        if handle is None:
            return
        try:
            if exc is None and options.capture_output:
                handle.set_output(output)
        except Exception as error:
            runtime.internal_error_quiet(error, f"recording the output of {options.name}")
        handle.end(exc)

    def open_generator_span(
        runtime: Runtime, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AitherSpan | None:
        # A generator's span is current only while the generator runs, never between its
        # items, where the caller's own context must stay as it was.
        handle = open_span(runtime, args, kwargs, attach=False)
        return handle

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def async_gen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            runtime = get_runtime()
            agen: AsyncGenerator[Any, Any] = fn(*args, **kwargs)  # type: ignore[assignment]
            if runtime is None:
                async for item in agen:
                    yield item
                return
            handle = open_generator_span(runtime, args, kwargs)
            items: list[Any] = []
            cap = runtime.settings.limits.rows
            error: BaseException | None = None
            try:
                while True:
                    token = handle.activate() if handle is not None else None
                    try:
                        item = await agen.__anext__()
                    except StopAsyncIteration:
                        break
                    finally:
                        if handle is not None:
                            handle.deactivate(token)
                    if len(items) < cap:
                        items.append(item)
                    yield item
            except BaseException as exc:
                error = exc
                raise
            finally:
                if isinstance(error, GeneratorExit):
                    await agen.aclose()
                close_span(runtime, handle, items, None if isinstance(error, GeneratorExit) else error)

        return cast(Callable[P, R], async_gen_wrapper)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            runtime = get_runtime()
            gen: Generator[Any, Any, Any] = fn(*args, **kwargs)  # type: ignore[assignment]
            if runtime is None:
                return (yield from gen)
            handle = open_generator_span(runtime, args, kwargs)
            items: list[Any] = []
            error: BaseException | None = None
            cap = runtime.settings.limits.rows

            def step(action: Callable[..., Any], *value: Any) -> Any:
                token = handle.activate() if handle is not None else None
                try:
                    return action(*value)
                finally:
                    if handle is not None:
                        handle.deactivate(token)

            try:
                # The delegation of PEP 380 (``yield from``), written out to see each item.
                try:
                    item = step(next, gen)
                except StopIteration as stop:
                    return stop.value
                while True:
                    if len(items) < cap:
                        items.append(item)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        step(gen.close)
                        raise
                    except BaseException as thrown:
                        try:
                            item = step(gen.throw, thrown)
                        except StopIteration as stop:
                            return stop.value
                    else:
                        try:
                            item = step(gen.send, sent)
                        except StopIteration as stop:
                            return stop.value
            except BaseException as exc:
                error = exc
                raise
            finally:
                close_span(runtime, handle, items, None if isinstance(error, GeneratorExit) else error)

        return cast(Callable[P, R], gen_wrapper)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            runtime = get_runtime()
            if runtime is None:
                return await fn(*args, **kwargs)  # type: ignore[misc]
            handle = open_span(runtime, args, kwargs)
            try:
                result = await fn(*args, **kwargs)  # type: ignore[misc]
            except BaseException as exc:
                close_span(runtime, handle, None, exc)
                raise
            close_span(runtime, handle, result, None)
            return result

        return cast(Callable[P, R], async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        runtime = get_runtime()
        if runtime is None:
            return fn(*args, **kwargs)
        handle = open_span(runtime, args, kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            close_span(runtime, handle, None, exc)
            raise
        close_span(runtime, handle, result, None)
        return result

    return wrapper
