"""TensorFlow tensors (eager, variables, ragged, sparse), tf.data datasets and Keras symbolic tensors.

A tensor on the host is read through a zero-copy numpy view and only the slice is copied; a
tensor on an accelerator is sliced there (``t[:rows, :columns]``, every further axis capped at
``columns``) and only the slice is copied to the host. ``.numpy()`` of the whole tensor is
never called: it copies all of it. ``_meta`` also records the tensor's ``device`` and
``requires_grad`` (a variable's ``trainable``; None for a plain tensor, whose gradients
depend on the ``GradientTape`` watching it).

Numpy arrays and dicts of tensors or arrays are sampled by their own samplers, which call
this one for each tensor inside them.
"""

from __future__ import annotations

import sys
from typing import Any

import tensorflow as tf

from .limits import SampleLimits
from .model import Sample, meta


def _head(ndim: int, rows: int, columns: int) -> tuple[slice, ...]:
    return (slice(rows),) + (slice(columns),) * (ndim - 1)


def _described(
    type_name: str,
    shape: Any,
    dtypes: Any,
    rows: int | None,
    truncated: bool,
    device: str | None = None,
    requires_grad: bool | None = None,
) -> dict[str, Any]:
    described = meta(type_name, shape, None, dtypes, rows, truncated)
    described["device"] = device
    described["requires_grad"] = requires_grad
    return described


def _host_slice(value: Any, index: tuple[slice, ...]) -> Any:
    """The slice as a numpy array owned by the sample."""
    view = getattr(value, "_numpy", None)
    if view is not None and ":CPU:" in value.device:
        try:
            # A host tensor's buffer seen as numpy without a copy (``.numpy()`` copies it all),
            # then a copy of the slice only.
            return view()[index].copy()
        except Exception:  # dtypes numpy cannot view (resource, variant): slice in TensorFlow
            pass
    return value[index].numpy()  # sliced on the tensor's device; only the slice is copied


def _sample_dense(value: Any, rows: int, columns: int, type_name: str, trainable: bool | None) -> Sample:
    shape = value.shape.as_list()
    dtype = value.dtype.name
    device = value.device
    if not shape:
        scalar = value.numpy()
        return Sample(scalar, _described(type_name, shape, dtype, 1, False, device, trainable), 64)
    part = _host_slice(value, _head(len(shape), rows, columns))
    truncated = list(part.shape) != shape
    return Sample(
        part, _described(type_name, shape, dtype, shape[0], truncated, device, trainable), 64 + 12 * part.size
    )


def _spec_dtypes(spec: Any) -> Any:
    if isinstance(spec, tf.TypeSpec) and hasattr(spec, "dtype"):
        return spec.dtype.name
    if isinstance(spec, dict):
        return {str(k): _spec_dtypes(v) for k, v in spec.items()}
    if isinstance(spec, (tuple, list)):
        return [_spec_dtypes(v) for v in spec]
    return str(spec)


def sample_tensorflow(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    """Sample a TensorFlow or Keras value; None for anything else of theirs (a dtype, a shape)."""
    if isinstance(value, tf.Variable):
        return _sample_dense(value, rows, columns, "tensorflow.Variable", bool(value.trainable))
    if isinstance(value, tf.Tensor):
        if not hasattr(value, "_numpy"):
            # A symbolic tensor (inside tf.function tracing): it has no values to sample.
            shape = value.shape.as_list() if value.shape.rank is not None else None
            return Sample(None, _described("tensorflow.Tensor", shape, value.dtype.name, None, True), 96)
        return _sample_dense(value, rows, columns, "tensorflow.Tensor", None)
    if isinstance(value, tf.RaggedTensor):
        shape = value.shape.as_list()
        n_rows = shape[0]
        head = value[:rows].to_list()  # a ragged slice of the first rows, then only those rows
        data = [row[:columns] for row in head]
        truncated = n_rows is None or n_rows > rows or any(len(row) > columns for row in head)
        return Sample(
            data,
            _described("tensorflow.RaggedTensor", shape, value.dtype.name, n_rows, truncated),
            64 + 24 * rows * columns,
        )
    if isinstance(value, tf.SparseTensor):
        # Reading a sparse tensor's first rows scans all of its indices: describe it only.
        shape = value.shape.as_list()
        return Sample(
            None, _described("tensorflow.SparseTensor", shape, value.dtype.name, shape[0], True), 96
        )
    if isinstance(value, tf.data.Dataset):
        # Reading a dataset runs its input pipeline: describe its elements only. Its
        # cardinality counts elements (often batches), not rows, so rows stays unknown.
        spec = value.element_spec
        shape = (
            spec.shape.as_list() if isinstance(spec, tf.TensorSpec) and spec.shape.rank is not None else None
        )
        return Sample(None, _described("tensorflow.data.Dataset", shape, _spec_dtypes(spec), None, True), 128)
    keras_tensor = _keras_tensor_type()
    if keras_tensor is not None and isinstance(value, keras_tensor):
        # A Keras symbolic tensor (a functional model being built): no values.
        return Sample(
            None, _described("keras.KerasTensor", list(value.shape), str(value.dtype), None, True), 96
        )
    return None


def _keras_tensor_type() -> Any:
    keras = sys.modules.get("keras")  # never imported here: a KerasTensor means keras is loaded
    return getattr(keras, "KerasTensor", None) if keras is not None else None
