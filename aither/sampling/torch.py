"""PyTorch tensors: slice on the tensor's own device, then copy only the slice to the host.

The caller's thread never calls ``.cpu()``, ``.numpy()`` or ``.item()`` on the whole tensor:
``t[:rows, :columns]`` (every further axis capped at ``columns`` too) is a view made on the
device, and only that view is copied. A CUDA slice is copied asynchronously into pinned
memory with an event recorded behind it, so the caller does not wait for the GPU; the export
thread waits on the event before it reads the copy. ``_meta`` also records the tensor's
``device`` and ``requires_grad``.

On the host the copy is a numpy array where numpy has the dtype, not a torch tensor: a small
tensor kept alive in the export queue (its 64-byte aligned buffer, ``TensorImpl`` and
``StorageImpl``) fragments glibc's heap between a model's large activations, which glibc
then gives back to the system and faults in again at the next call. Measured on a 3-layer
MLP: hundreds of page faults per call on a 100,000-row input, growing with the rows, against
none with numpy copies (``benchmarks/frameworks.py``).

Tuples and dicts of tensors are sampled by the built-in sampler, which calls this one for
each tensor inside them.
"""

from __future__ import annotations

from typing import Any

import torch

from .limits import SampleLimits
from .model import Sample, meta

_DTYPE_NAMES: dict[torch.dtype, str] = {}


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``; cached, since ``str`` of a dtype is not free."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
    return name


class HostSlice:
    """A slice of a tensor already copied to host memory; encoded on the export thread.

    Attributes:
        host: the host copy, never a view of the caller's tensor: a numpy array, or a torch
            tensor for dtypes numpy lacks and for pinned copies of CUDA slices.
        ready: a ``torch.cuda.Event`` recorded after an asynchronous device-to-host copy, or
            None when the copy is already complete.
    """

    __slots__ = ("host", "ready")

    def __init__(self, host: Any, ready: Any = None) -> None:
        self.host = host
        self.ready = ready

    def __aither_json__(self) -> Any:
        if self.ready is not None:
            self.ready.synchronize()  # waits for this slice's copy only, on the export thread
        tensor = self.host
        if not isinstance(tensor, torch.Tensor):  # a numpy copy
            if tensor.ndim == 0 or tensor.dtype.kind == "c":
                return tensor.tolist()  # a Python number; complex ones are written as text
            return tensor
        if tensor.ndim == 0:
            return tensor.item()  # one Python number (complex ones are written as text)
        if tensor.is_complex():
            return tensor.tolist()  # Python complex numbers, which the encoder writes as text
        if tensor.dtype in _NON_NUMPY:
            tensor = tensor.to(torch.float32 if tensor.is_floating_point() else torch.int64)
        try:
            return tensor.numpy()
        except Exception:  # torch built without numpy: a plain list encodes as well
            return tensor.tolist()

    def __repr__(self) -> str:
        return f"HostSlice({self.host!r})"


# dtypes numpy has no equivalent of; their values fit float32 (or int64) exactly.
_NON_NUMPY = frozenset(
    getattr(torch, name)
    for name in (
        "bfloat16",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e5m2",
        "float8_e5m2fnuz",
        "float8_e8m0fnu",
        "uint16",
        "uint32",
        "uint64",
    )
    if hasattr(torch, name)
)


def _head(ndim: int, rows: int, columns: int) -> tuple[slice, ...]:
    return (slice(rows),) + (slice(columns),) * (ndim - 1)


def to_host(part: torch.Tensor) -> HostSlice | None:
    """Copy a (small) slice to the host; None where it cannot be read (meta tensors, a CUDA
    graph being captured)."""
    device = "cpu" if part.is_cpu else part.device.type
    if device == "cpu":
        # A copy, not the view: later in-place writes to the caller's tensor never show.
        return HostSlice(_owned_copy(part))
    if device == "meta":
        return None
    if device == "cuda":
        if torch.cuda.is_current_stream_capturing():
            return None  # a copy inside a CUDA graph capture would be recorded into the graph
        host = part.to("cpu", non_blocking=True)  # pinned memory, queued behind the model's kernels
        ready = torch.cuda.Event()
        ready.record(torch.cuda.current_stream(part.device))
        return HostSlice(host, ready)
    return HostSlice(_owned_copy(part.to("cpu")))  # mps, xpu and others: a blocking copy of the slice only


def _owned_copy(part: torch.Tensor) -> Any:
    """A numpy copy of a (detached, host) slice where numpy can hold it, else a torch clone;
    see the module's docstring for why not a tensor."""
    if part.dtype not in _NON_NUMPY:
        try:
            return part.numpy().copy()
        except (RuntimeError, TypeError):  # conjugate or negative views, torch without numpy
            pass
    return part.clone(memory_format=torch.contiguous_format)


def sample_torch(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    """Sample a ``torch.Tensor`` (``nn.Parameter`` and other subclasses too); None otherwise."""
    if not isinstance(value, torch.Tensor):
        return None  # torch.Size, torch.return_types.*: tuples, sampled as such
    tp = type(value)
    type_name = "torch.Tensor" if tp is torch.Tensor else f"{tp.__module__}.{tp.__qualname__}"
    dtype = dtype_name(value.dtype)
    cpu = value.is_cpu
    device = "cpu" if cpu else str(value.device)
    requires_grad = value.requires_grad
    if value.is_nested:
        # A nested (ragged) tensor has no rectangular shape: describe it, keep no values.
        n = value.size(0)
        return Sample(None, _meta(type_name, None, dtype, n, True, device, requires_grad), 96)
    shape = list(value.shape)
    ndim = len(shape)
    if ndim == 0:
        host = to_host(value.detach())
        return Sample(host, _meta(type_name, shape, dtype, 1, host is None, device, requires_grad), 64)
    n_rows = shape[0]
    if value.layout != torch.strided:
        # Sparse layouts cannot be sliced as views; their values are not sampled.
        return Sample(None, _meta(type_name, shape, dtype, n_rows, True, device, requires_grad), 96)
    index = _head(ndim, rows, columns)
    if cpu and not value.is_quantized and value.dtype not in _NON_NUMPY:
        # The fast path on the host: a zero-copy numpy view of the tensor, sliced and copied
        # by numpy, costs a third of torch's own indexing.
        try:
            part_np = value.detach().numpy()[index].copy()
        except (RuntimeError, TypeError):  # conjugate or negative views, torch without numpy
            pass
        else:
            truncated = list(part_np.shape) != shape
            size = 64 + 12 * part_np.size  # about 12 characters per number once encoded
            meta_ = _meta(type_name, shape, dtype, n_rows, truncated, device, requires_grad)
            return Sample(HostSlice(part_np), meta_, size)
    part = value.detach()[index]
    if part.is_quantized:
        part = part.dequantize()
    host = to_host(part)
    part_shape = list(part.shape)
    truncated = host is None or part_shape != shape
    size = 64 + 12 * part.numel()  # about 12 characters per number once encoded
    return Sample(host, _meta(type_name, shape, dtype, n_rows, truncated, device, requires_grad), size)


def _meta(
    type_name: str,
    shape: list[int] | None,
    dtype: str,
    rows: int,
    truncated: bool,
    device: str,
    requires_grad: bool,
) -> dict[str, Any]:
    described = meta(type_name, shape, None, dtype, rows, truncated)
    described["device"] = device
    described["requires_grad"] = requires_grad
    return described
