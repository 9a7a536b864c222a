"""Whole-span checks shared by the framework tests."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from aither.sampling import Sample
from aither.sampling.encoder import dumps
from aither.testing import CapturedSpan

SAMPLED = ("ml.features", "ml.prediction")


IDENTITY = ("ml.model.params", "ml.model.fingerprint")
"""The model's identity, on its first prediction span only (checked in form by :func:`split`,
and in value by tests/core/test_wrap.py and each framework's own identity test)."""
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")


def split(span: CapturedSpan) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """A prediction span's attributes without its samples and its model's identity, then
    ``ml.features`` and ``ml.prediction``.

    Each sample is checked to hold exactly ``sample`` and ``_meta``, and the identity (when
    there) to be a dict of JSON scalars and a SHA-256, so a test that compares the three parts
    compares the whole span.
    """
    attributes = dict(span.attributes)
    params = attributes.pop("ml.model.params", None)
    assert params is None or all(isinstance(v, (str, int, float, bool, type(None))) for v in params.values())
    fingerprint = attributes.pop("ml.model.fingerprint", None)
    assert fingerprint is None or _FINGERPRINT.fullmatch(fingerprint), fingerprint
    features = attributes.pop("ml.features")
    prediction = attributes.pop("ml.prediction", None)
    for part in (features, prediction):
        if part is not None:
            assert set(part) == {"sample", "_meta"}, part
    # drift's random rows, present when ml.features shows only some rows: checked for shape here
    stats = attributes.pop("ml.features.stats_sample", None)
    stats_out = attributes.pop("ml.prediction.stats_sample", None)
    if stats is not None:
        assert features["_meta"]["truncated"], features["_meta"]
        assert set(stats) == {"columns", "rows", "index", "of"}
        assert len(stats["rows"]) == len(stats["index"]) == min(stats["of"], 100)
        if stats_out is not None:
            assert stats_out["index"] == stats["index"]
            assert len(stats_out["values"]) == len(stats["index"])
    else:
        assert stats_out is None
    return attributes, features, prediction


def encoded(sample: Sample) -> dict[str, Any]:
    """A sample as the span carries it: encoded to JSON the way the export thread does, then decoded."""
    decoded: dict[str, Any] = json.loads(dumps(sample))
    return decoded


def same_values(sample: Any, expected: Any) -> None:
    """``sample`` (decoded JSON) holds exactly ``expected``'s values, in ``expected``'s dtype.

    Floats travel as their shortest round-trip text, so a float32 compared as float32 is exact.
    """
    expected = np.asarray(expected)
    got = np.asarray(sample, dtype=expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_array_equal(got, expected)


def prediction_attributes(
    name: str,
    *,
    framework: str,
    version: str | None,
    model_class: str,
    method: str,
    rows_in: int | None,
    rows_out: int | None,
    parameters: int | None = None,
) -> dict[str, Any]:
    """The attributes every prediction span of a wrapped model carries, samples aside."""
    attributes: dict[str, Any] = {
        "aither.span.kind": "prediction",
        "aither.schema.version": "2",
        "ml.model.name": name,
        "ml.model.framework": framework,
        "ml.model.class": model_class,
        "ml.method": method,
    }
    if version is not None:
        attributes["ml.model.framework.version"] = version
    if parameters is not None:
        attributes["ml.model.parameters"] = parameters
    if rows_in is not None:
        attributes["ml.input.rows"] = rows_in
    if rows_out is not None:
        attributes["ml.output.rows"] = rows_out
    return attributes


def tensor_meta(
    type_name: str,
    shape: list[int],
    dtype: str,
    *,
    truncated: bool,
    device: Any,
    requires_grad: bool | None,
    rows: int | None = None,
) -> dict[str, Any]:
    """``_meta`` of a tensor: the six keys plus ``device`` and ``requires_grad``."""
    return {
        "type": type_name,
        "shape": shape,
        "columns": None,
        "dtypes": dtype,
        "rows": shape[0] if rows is None and shape else (1 if rows is None else rows),
        "truncated": truncated,
        "device": device,
        "requires_grad": requires_grad,
    }


def array_meta(shape: list[int], dtype: str, *, truncated: bool) -> dict[str, Any]:
    """``_meta`` of a numpy array."""
    return {
        "type": "numpy.ndarray",
        "shape": shape,
        "columns": None,
        "dtypes": dtype,
        "rows": shape[0],
        "truncated": truncated,
    }
