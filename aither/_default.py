"""The module-level API: each function is the default client's method of the same name.

See :mod:`aither._client` for what happens before ``init()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._client import (
    Client,
    DefaultTracking,
    NoSpan,
    close_default,
    default_client,
    default_client_lazy,
    default_runtime_lazy,
    signature_of_method,
    unpickle_tracked,
)
from ._wrap import make_proxy
from .adapters.base import WrapOptions
from .exceptions import ArgumentTypeError, FrameworkNotInstalled
from .export import Stats
from .tracing.context import last_trace_id as _last_trace_id
from .tracing.llm_record import LLMCall
from .tracing.spans import AitherSpan


@signature_of_method(Client.wrap)
def wrap(model: Any, /, **options: Any) -> Any:
    """Return a transparent proxy of ``model`` whose predictions are traced.

    Takes :meth:`aither.Client.wrap`'s parameters (for type checkers and ``help()`` too), and
    is typed as returning the model's own type: the proxy passes ``isinstance``.

    Every attribute passes through; ``isinstance``, pickling, ``copy`` and
    ``sklearn.base.clone`` work. The prediction methods of the model's framework
    (``predict``, ``predict_proba``, ``__call__``...) each make one span per call, with a
    sample of the input (``sample_rows`` x ``sample_columns``), the output, and the model's
    identity. Wrapping a wrapped model returns it unchanged.

    Args:
        model: a scikit-learn-style estimator, a framework model, or any callable.
        name: the model's name on its spans (default: the class name).
        version: the model's version, free-form.
        environment: ``production``, ``staging``... (default: the client's ``environment``).
        sample_rows / sample_columns: override the client's sample size for this model.
        features_fn: called with the input; its result is sampled instead of the input. If it
            raises, the prediction still returns and the error is counted.
        user_id / session_id / metadata: put on every span of this object (``enduser.id``,
            ``session.id``, ``aither.metadata.*``), under what ``aither.context`` sets around a call.

    Raises:
        FrameworkNotInstalled: the model's framework cannot be imported (names the extra).
        TypeError: the object has nothing to trace.
        ConfigError: aither is not initialised and cannot initialise from the environment.

    Example:
        >>> tracked = aither.wrap(model, name="fraud_detector", version="1.2.3")  # doctest: +SKIP
        >>> tracked.predict(X)                                                      # doctest: +SKIP
        >>> tracked.last_trace_id                                                   # doctest: +SKIP
    """
    # a missing configuration is an error here, at start-up, not in predict()
    client = default_client()
    # the default client is looked up at each call, so a later init() is followed
    return make_proxy(
        model,
        default_runtime_lazy,
        WrapOptions(**options),
        trace_ids_size=client.settings.trace_ids_size,
        unpickle=unpickle_tracked,
    )


track = DefaultTracking().track
"""``@aither.track``: see :meth:`aither.Client.track`."""


@signature_of_method(Client.span)
def span(*args: Any, **kwargs: Any) -> AitherSpan | NoSpan:
    """A span around a block, sync or async: ``with aither.span("retrieve", kind="tool") as s:``.

    ``s.set_input()``, ``s.set_output()``, ``s.set_cost()``, ``s.set_metadata()`` record on it;
    an exception leaving the block is recorded and re-raised. With aither off it is a
    :class:`~aither._client.NoSpan`, whose methods do nothing.
    """
    return default_client().span(*args, **kwargs)


@signature_of_method(Client.log_prediction)
def log_prediction(*args: Any, **kwargs: Any) -> str | None:
    """Record a prediction made without ``wrap``; returns its trace id for :func:`log_label`.

    Example:
        >>> tid = aither.log_prediction(  # doctest: +SKIP
        ...     model_name="my_pipeline", features={"amount": 150.0}, prediction=0.87, version="1.2.3"
        ... )
    """
    return default_client().log_prediction(*args, **kwargs)


@signature_of_method(Client.log_label)
def log_label(*args: Any, **kwargs: Any) -> None:
    """Record the ground truth of the prediction made in trace ``trace_id``.

    ``label`` is one value; or, for a batch prediction, a sequence with one label per row, or
    ``{row_index: label}`` for some rows. When the trace holds several predictions (two
    models, or a tracked function that called a wrapped model), pass ``model_name``: aither
    never guesses. Labels may come from another process, hours later.

    Raises:
        InvalidTraceId: ``trace_id`` is not 32 hex digits.
        AmbiguousLabel: the trace holds several predictions and ``model_name`` does not pick one.
        ValueError: a batch label's length does not match the prediction's rows.
    """
    default_client().log_label(*args, **kwargs)


@signature_of_method(Client.log_event)
def log_event(*args: Any, **fields: Any) -> str | None:
    """Record one event (an agent step, a tool call made elsewhere); returns its trace id.

    Args:
        name: the span's name.
        input / output: recorded as ``aither.input`` / ``aither.output`` (bounded samples).
        cost: US dollars, ``aither.cost.usd``.
        metadata: ``aither.metadata.*`` attributes.
        event_type: ``aither.span.type`` (``decision``, ``tool``...).
        latency_ms: how long it took; the span starts that long before it ends.
        status: ``"success"`` (the default) or ``"error"`` (the default when ``error_message``
            is given): the span's status is ERROR, with ``error_message`` as its description.
        timestamp: when it ended: an ISO 8601 string, a ``datetime`` (naive is UTC) or Unix
            seconds; default now.

    Raises:
        ValueError: a field is malformed (the message names it).

    Example:
        >>> aither.log_event("decision", input={"q": "hi"}, output={"a": "yo"},  # doctest: +SKIP
        ...                  latency_ms=250, status="success", cost=0.01)
    """
    return default_client().log_event(*args, **fields)


def log_llm_call(
    call: LLMCall | None = None,
    /,
    *,
    model: str | None = None,
    service: str | None = None,
    provider: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    latency_ms: float | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    cost_usd: float | None = None,
    finish_reason: str | None = None,
    errors: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
    timestamp: Any = None,
    prompt_embedding: Sequence[float] | None = None,
    response_embedding: Sequence[float] | None = None,
) -> str | None:
    """Record an LLM call made by a client aither does not wrap (Cohere, a local vLLM, your
    own gateway); returns its trace id.

    The span is the one a wrapped client makes (``gen_ai.*``, ``aither.span.kind`` = ``llm``),
    with the cost from the price table when ``cost_usd`` is omitted, PII counts and the
    prompt-injection score, and the texts as content only with ``capture_content``. Pass the
    fields as keywords, or an :class:`aither.LLMCall` built up beforehand; every field is
    described there.

    Raises:
        ValueError: a field is malformed; the message names it.
        TypeError: ``model`` is missing, or both a record and keywords are given.

    Example:
        >>> aither.log_llm_call(model="command-r", provider="cohere", prompt="Hi",  # doctest: +SKIP
        ...                     response="Hello!", latency_ms=320, prompt_tokens=2,
        ...                     completion_tokens=3, user_id="u-42")
    """
    if call is None:
        if model is None:
            raise ArgumentTypeError(
                "log_llm_call needs model= (the model that was called), or an aither.LLMCall"
            )
        # the keywords above are LLMCall's fields, by the same names
        fields = {name: value for name, value in locals().items() if name != "call"}
        call = LLMCall(**{**fields, "errors": list(errors)})
    return default_client().log_llm_call(call)


def langchain_handler(client: Client | None = None) -> Any:
    """A LangChain callback handler recording chains, chat models and tools as aither spans.

    Pass it where LangChain takes callbacks; needs ``aither[langchain]``. See
    :class:`aither.integrations.langchain.AitherCallbackHandler`.

    Raises:
        FrameworkNotInstalled: langchain-core is not installed (names the extra).

    Example:
        >>> chain.invoke({"q": "hi"}, config={"callbacks": [aither.langchain_handler()]})  # doctest: +SKIP
    """
    try:
        from .integrations.langchain import AitherCallbackHandler
    except ImportError as exc:
        if (getattr(exc, "name", None) or "").startswith("aither"):
            raise
        raise FrameworkNotInstalled("langchain_core", "langchain") from exc
    return AitherCallbackHandler(client)


def flush(timeout: float = 5.0) -> bool:
    """Export what is queued; True when all of it was delivered within ``timeout`` seconds."""
    client = default_client_lazy()
    return True if client is None else client.flush(timeout)


def close(timeout: float | None = None) -> bool:
    """Flush and stop the default client; the next call starts a fresh one from the environment."""
    return close_default(timeout)


def stats() -> Stats:
    """The default client's span accounting (see :class:`aither.Stats`)."""
    client = default_client_lazy()
    return Stats(0, 0, 0, 0, 0, 0, 0) if client is None else client.stats()


def last_trace_id() -> str | None:
    """Trace id of the last span aither made in this thread or asyncio task (any model)."""
    return _last_trace_id()
