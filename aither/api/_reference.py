"""``aither.set_reference``: send a model's drift reference, as a bounded random sample of rows.

The server keeps per-feature summaries and a bounded sample of what it receives, never a data
set; the SDK sends at most ``max_rows`` rows drawn at random, so a training set of millions of
rows costs one request of a few megabytes at most.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from ..exceptions import ConfigError
from ..sampling.encoder import to_jsonable
from ..sampling.rows import take_input
from ._calls import Call
from ._sync import ManagementClient

MAX_ROWS = 5000
"""Rows sent by default; the server's limit is 100,000."""


def set_reference(
    model_name: str,
    data: Any,
    *,
    version: str | None = None,
    outputs: Any = None,
    max_rows: int = MAX_ROWS,
    api_key: str | None = None,
    base_url: str | None = None,
    http_client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Make ``data`` the drift reference of ``model_name`` (at ``version``, or every version).

    ``data`` is what the model takes: a 2-D numpy array, a pandas or polars data frame, a
    2-D torch tensor, or a list of rows (lists or dicts). ``outputs`` (optional) are the
    model's outputs for the same rows, for output drift. The model's open drift windows start
    again against the new reference. Called on the caller's thread; raises
    :class:`~aither.ConfigError` for data it cannot read and :class:`~aither.APIError` for
    the server's refusal.

    Example::

        aither.set_reference("fraud_detector", X_train, version="1.2.3")

    Returns:
        The server's answer: ``{"model", "version", "source", "rows", "columns"}``.
    """
    if not isinstance(model_name, str) or not model_name:
        raise ConfigError("set_reference needs the model's name, as given to wrap(..., name=...)")
    if max_rows < 1:
        raise ConfigError(f"max_rows={max_rows!r} must be at least 1")
    taken = take_input(data, limit=max_rows)
    if taken is None:
        raise ConfigError(
            f"set_reference can't read rows from {type(data).__name__}: pass a 2-D numpy array, a pandas "
            "or polars data frame, a 2-D torch tensor, or a list of rows"
        )
    body: dict[str, Any] = to_jsonable(taken.__aither_json__())
    payload: dict[str, Any] = {"version": version, "columns": body["columns"], "rows": body["rows"]}
    if outputs is not None:
        output = taken.output(outputs)
        if output is None:
            raise ConfigError("outputs must have one value per row of data")
        payload["outputs"] = to_jsonable(output.__aither_json__())["values"]
    call: Call[dict[str, Any]] = Call(
        "POST", f"/api/v1/models/{quote(model_name, safe='')}/reference", dict, json=payload
    )
    with ManagementClient(api_key=api_key, base_url=base_url, http_client=http_client) as client:
        return client.send(call)
