"""Stream proxies of LLM spans: the chunks pass through unchanged, the span ends exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import wrapt

from ...schema import semconv

if TYPE_CHECKING:
    from ._common import LLMCall

STREAM_COMPLETED: Final = semconv.LLM_STREAM_END_COMPLETED
STREAM_CLOSED: Final = semconv.LLM_STREAM_END_CLOSED
STREAM_ERROR: Final = semconv.LLM_STREAM_END_ERROR
STREAM_GC: Final = semconv.LLM_STREAM_END_GARBAGE_COLLECTED
_time_ns = time.time_ns


class StreamRecorder:
    """A provider's accounting of one stream; subclass it per API.

    ``on_chunk`` is called on the caller's thread for every chunk the SDK yields, before the
    caller sees it, and must be O(chunk). ``finish`` is called once, when the stream ends,
    to record what the chunks said on the call. Neither should raise; if one does, the error
    is counted and the chunk still reaches the caller.
    """

    def on_chunk(self, chunk: Any) -> bool:
        """Account for ``chunk``; return False to keep it from the caller (a chunk that only
        exists because aither asked for it, such as OpenAI's usage-only chunk)."""
        return True

    def finish(self, call: LLMCall) -> None:
        """Record the accumulated response on ``call`` (``record_response``, ``record_usage``,
        ``record_output``)."""
        return None


# -- stream proxies -------------------------------------------------------------------------------------


class _StreamState:
    """What a stream proxy counts; kept apart from the proxy so ``__del__`` needs only it."""

    __slots__ = ("call", "chunks", "first_ns", "last_seen", "record", "recorder")

    def __init__(self, call: LLMCall, recorder: StreamRecorder) -> None:
        self.call = call
        self.recorder = recorder
        # The bound method, looked up once: the proxy calls it for every chunk.
        self.record = recorder.on_chunk
        self.chunks = 0
        self.first_ns = 0
        self.last_seen = time.time_ns()  # wall clock of the stream's return, then of each chunk

    def on_chunk(self, chunk: Any) -> bool:
        """Account for one chunk: the time of the first, the last sign of life, the recorder;
        True when the chunk goes to the caller. Called for every chunk, by both proxies."""
        if not self.first_ns:
            self.first_ns = time.monotonic_ns()
        self.last_seen = _time_ns()
        try:
            keep = self.record(chunk)
        except Exception as exc:
            self.call.runtime.internal_error_quiet(exc, "reading an LLM stream chunk")
            keep = True
        if keep is not False:
            self.chunks += 1
            return True
        return False

    def stopped(self, exc: BaseException) -> None:
        """A read of the stream raised ``exc``: the end of the stream (``StopIteration``, or
        ``StopAsyncIteration`` for an async one) completes it, anything else ends it in error."""
        if isinstance(exc, (StopIteration, StopAsyncIteration)):
            self.finish(STREAM_COMPLETED)
        else:
            self.finish(STREAM_ERROR, exc)

    def finish(self, how: str, exc: BaseException | None = None) -> None:
        call = self.call
        if call.ended:
            return
        try:
            attrs: dict[str, Any] = {semconv.AITHER_LLM_STREAM_CHUNKS: self.chunks}
            if self.first_ns:
                attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (self.first_ns - call.start_ns) / 1e9
            call.stream_attributes = attrs
            self.recorder.finish(call)
        except Exception as error:
            call.runtime.internal_error_quiet(error, "ending an LLM stream")
        # A stream dropped unfinished is collected whenever the collector runs; its span ends
        # at its last sign of life instead, so its duration is the stream's, not the gc's.
        end_time = self.last_seen if how == STREAM_GC else None
        if exc is not None:
            call.fail(exc, how)
        else:
            call.end(how, end_time=end_time)


def _chunks(proxy: StreamProxy, state: _StreamState, iterator: Iterator[Any]) -> Iterator[Any]:
    """A sync stream's chunks, accounted for, as a ``for`` loop reads them. Holds ``proxy``: in
    ``for chunk in client.create(stream=True)`` the loop keeps only this generator, and the
    proxy, collected, would end the span as a dropped stream's.

    What :meth:`_StreamState.on_chunk` does, inline and with less: this loop runs once per
    chunk of every stream read with ``for``. No clock is read per chunk: the loop's last sign of
    life is when it is left (the generator closed or dropped, which is when the caller stops
    reading), and the proxy, which this generator holds, cannot be collected before that."""
    record = state.record
    first = not state.first_ns
    try:
        for chunk in iterator:
            if first:
                first = False
                state.first_ns = time.monotonic_ns()
            try:
                keep = record(chunk)
            except Exception as exc:
                state.call.runtime.internal_error_quiet(exc, "reading an LLM stream chunk")
                keep = True
            if keep is not False:
                state.chunks += 1
                yield chunk
    except GeneratorExit:
        # The loop was left (break, or its generator dropped): the stream may be read on;
        # it ends when it is exhausted, closed or collected.
        state.last_seen = _time_ns()
        raise
    except BaseException as exc:
        state.finish(STREAM_ERROR, exc)
        raise
    state.finish(STREAM_COMPLETED)


def _collected(proxy: Any) -> None:
    """A proxy collected before its stream ended: end its span as ``proxy.gc_end``."""
    try:
        state = getattr(proxy, "_self_state", None)
        if state is not None and not state.call.ended:
            state.finish(type(proxy).gc_end)
    except Exception:
        pass  # at interpreter exit, or a half-built proxy: nothing to report to


class _StreamProxyBase(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """What the sync and async stream proxies share: the state, the end of a stream dropped
    unfinished, and the refusal to be pickled."""

    def __init__(self, wrapped: Any, call: LLMCall, recorder: StreamRecorder) -> None:
        super().__init__(wrapped)
        self._self_state = _StreamState(call, recorder)
        self._self_iterator: Any = None

    gc_end = STREAM_GC
    """How a stream dropped unfinished ends (``aither.llm.stream.end``)."""

    def __del__(self) -> None:
        _collected(self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("an LLM stream cannot be pickled")


class StreamProxy(_StreamProxyBase):
    """A sync stream, unchanged for its caller, whose LLM span ends exactly once.

    Iteration yields the wrapped stream's chunks in order (except those the recorder keeps
    back); ``isinstance``, attributes (``response``...) and methods reach the stream. The
    span ends with ``aither.llm.stream.end`` = ``completed`` (exhausted), ``closed``
    (``close()`` or a ``with`` exit before the end), ``error`` (the stream raised) or
    ``garbage_collected`` (dropped unfinished).
    """

    def __iter__(self) -> Iterator[Any]:
        # A generator, as the SDKs' own ``Stream.__iter__`` is: a ``for`` loop resumes it per
        # chunk, cheaper than a call of ``__next__`` on the proxy. ``next(stream)`` still works
        # (``__next__``), and both read the same underlying iterator.
        return _chunks(self, self._self_state, self._iterator())

    def _iterator(self) -> Iterator[Any]:
        iterator = self._self_iterator
        if iterator is None:
            iterator = self._self_iterator = iter(self.__wrapped__)
        return iterator  # type: ignore[no-any-return]

    def __next__(self) -> Any:
        state = self._self_state
        iterator = self._iterator()
        while True:
            try:
                chunk = next(iterator)
            except BaseException as exc:
                state.stopped(exc)
                raise
            if state.on_chunk(chunk):
                return chunk

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_state.finish(STREAM_CLOSED)

    def __enter__(self) -> StreamProxy:
        enter = getattr(self.__wrapped__, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        exit_ = getattr(self.__wrapped__, "__exit__", None)
        try:
            return exit_(*exc_info) if exit_ is not None else None
        finally:
            self._self_state.finish(STREAM_CLOSED)


class AsyncStreamProxy(_StreamProxyBase):
    """The async twin of :class:`StreamProxy`: ``async for``, ``async with``, ``close()`` /
    ``aclose()``."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state
        iterator = self._self_iterator
        if iterator is None:
            iterator = self._self_iterator = self.__wrapped__.__aiter__()
        while True:
            try:
                chunk = await iterator.__anext__()
            except BaseException as exc:
                state.stopped(exc)
                raise
            if state.on_chunk(chunk):
                return chunk

    async def close(self) -> Any:
        try:
            result = self.__wrapped__.close()
            if hasattr(result, "__await__"):
                result = await result
            return result
        finally:
            self._self_state.finish(STREAM_CLOSED)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_state.finish(STREAM_CLOSED)

    async def __aenter__(self) -> AsyncStreamProxy:
        enter = getattr(self.__wrapped__, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        exit_ = getattr(self.__wrapped__, "__aexit__", None)
        try:
            return await exit_(*exc_info) if exit_ is not None else None
        finally:
            self._self_state.finish(STREAM_CLOSED)
