"""tinygrad tensors: realize the tensor, then copy only its first rows and columns.

A lazy tensor (a model's output, usually) is realized in place first: that is the work the
caller's own ``.realize()`` or ``.numpy()`` does next, which then finds it done; realizing a
view of it instead would run the model's kernels twice. Then only ``t[:rows, :columns]``
(every further axis capped at ``columns``) is copied to the host, never the whole tensor.
A tensor realized in host memory (on the CPU device) is read through a zero-copy numpy
view and only the slice is copied: that skips tinygrad's scheduler, which costs
milliseconds per realize.

While a ``TinyJit`` function is being captured, reading a tensor would bake its values
into the captured graph, so a tensor met then is described without values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tinygrad import Tensor

from .limits import SampleLimits
from .model import Sample, meta

_DTYPE_NAMES: dict[Any, str] = {}


def dtype_name(dtype: Any) -> str:
    """numpy's name where numpy has the dtype (``float32``, ``int64``), else tinygrad's."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        fmt = getattr(dtype, "fmt", None)
        name = np.dtype(fmt).name if fmt else str(getattr(dtype, "name", dtype)).strip("_")
        _DTYPE_NAMES[dtype] = name
    return name


def _capturing_jit() -> bool:
    try:
        from tinygrad.engine.realize import capturing
    except ImportError:  # a tinygrad without JIT capture state
        return False
    return bool(capturing)


def _host_array(tensor: Tensor, shape: tuple[int, ...]) -> np.ndarray | None:
    """A zero-copy numpy view of a realized, contiguous tensor in CPU memory, or None.

    Only a tensor whose graph is its buffer (or a reshape of all of it) qualifies: any other
    view would need a kernel to lay it out.
    """
    if not isinstance(tensor.device, str) or not tensor.device.startswith("CPU"):
        return None
    uop = tensor.uop
    while uop.op.name == "RESHAPE":
        uop = uop.src[0]
    if uop.op.name != "BUFFER":
        return None
    buffer = uop.buffer
    fmt = getattr(buffer.dtype, "fmt", None)
    if not fmt or not buffer.is_allocated() or buffer.size != int(np.prod(shape)):
        return None
    memory = buffer.as_memoryview(force_zero_copy=True)
    view: np.ndarray = np.frombuffer(memory, dtype=np.dtype(fmt)).reshape(shape)
    return view


def _host(tensor: Tensor, shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        return _host_array(tensor, shape)
    except Exception:  # tinygrad internals moved: take the general path
        return None


def _slice(tensor: Tensor, shape: tuple[int, ...], rows: int, columns: int) -> np.ndarray:
    index = (slice(rows),) + (slice(columns),) * (len(shape) - 1) if shape else ()
    host = _host(tensor, shape)
    if host is None and not _realized(tensor):
        # Realize the caller's tensor itself (a model's output, usually), so that the
        # caller's own .realize() or .numpy() finds it done: realizing a view of it instead
        # would run the model's kernels twice.
        tensor.realize()
        host = _host(tensor, shape)
    if host is not None:
        head: np.ndarray = host[index].copy()
        return head
    part = tensor[index] if shape else tensor
    array: np.ndarray = part.numpy()  # copies the slice only
    return array if array.flags.owndata else array.copy()


def _realized(tensor: Tensor) -> bool:
    try:
        uop = tensor.uop
        while uop.op.name in ("RESHAPE", "MULTI"):
            uop = uop.src[0]
        return bool(uop.op.name == "BUFFER" and uop.buffer.is_allocated())
    except Exception:  # tinygrad internals moved: realize, which is a no-op when done
        return False


def sample_tinygrad(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    """Sample a tinygrad ``Tensor``; None for anything else of tinygrad's."""
    if not isinstance(value, Tensor):
        return None
    shape = value.shape
    dtype = dtype_name(value.dtype)
    # A str, a tuple for a tensor sharded over devices, or None for an unrealized constant.
    device = list(value.device) if isinstance(value.device, tuple) else value.device
    # tinygrad 0.10 had ``requires_grad``; later versions mark trainable tensors ``is_param``.
    requires_grad = getattr(value, "requires_grad", getattr(value, "is_param", None))
    symbolic = not all(isinstance(d, int) for d in shape)
    n_rows = shape[0] if shape and isinstance(shape[0], int) else (1 if not shape else None)
    described = meta(
        "tinygrad.Tensor", list(shape) if not symbolic else [str(d) for d in shape], None, dtype, n_rows
    )
    described["device"] = device
    described["requires_grad"] = requires_grad
    if symbolic or _capturing_jit():
        described["truncated"] = True
        return Sample(None, described, 96)
    part = _slice(value, shape, rows, columns)
    described["truncated"] = part.shape != shape
    data = part.item() if part.ndim == 0 else part
    return Sample(data, described, 64 + 12 * part.size)
