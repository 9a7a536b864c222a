"""tinygrad models: calling the model is a prediction.

tinygrad has no model base class: a model is a plain class whose ``__call__`` runs its
layers (``tinygrad.nn.Linear``...), a layer itself, or a ``TinyJit`` function. The registry
picks this adapter for tinygrad's own classes and for a plain object that holds tinygrad
layers or tensors in its attributes.

A tinygrad output is lazy: sampling it realizes it in place (see
:mod:`aither.sampling.tinygrad`), work the caller's own ``.numpy()`` or ``.realize()`` then
reuses.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any, ClassVar

from .base import Adapter, package_version


class TinygradAdapter(Adapter):
    framework: ClassVar[str] = "tinygrad"
    extra: ClassVar[str | None] = "tinygrad"
    methods: ClassVar[tuple[str, ...]] = ("__call__",)

    def framework_name(self, model: Any) -> str:
        return "tinygrad"

    def framework_version(self, model: Any) -> str | None:
        # tinygrad has no ``__version__``; its distribution's metadata does.
        version = package_version("tinygrad")
        if version is not None:
            return version
        try:
            return importlib.metadata.version("tinygrad")
        except importlib.metadata.PackageNotFoundError:  # run from a source checkout
            return None

    def parameters(self, model: Any) -> int | None:
        """Elements of the tensors the model holds (``tinygrad.nn.state.get_parameters``),
        counted from their shapes at wrap time."""
        try:
            from tinygrad.nn.state import get_parameters

            return sum(int(p.numel()) for p in get_parameters(model))
        except Exception:  # symbolic shapes, or an object tinygrad cannot walk
            return None
