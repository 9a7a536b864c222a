"""PyTorch ``nn.Module``: calling the module and ``forward`` are predictions.

``tracked(x)`` runs ``nn.Module.__call__`` of the wrapped module, which calls the module's own
``forward`` (not the proxy's), so one call makes one span. Every other attribute
(``train``, ``eval``, ``to``, ``state_dict``, hooks, submodules) passes through the proxy to
the module; the proxy passes ``isinstance(tracked, nn.Module)``, so it can be assigned as a
submodule of another module, whose ``parameters()`` and ``state_dict()`` then include it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Adapter, package_version


class TorchAdapter(Adapter):
    framework: ClassVar[str] = "torch"
    methods: ClassVar[tuple[str, ...]] = ("__call__", "forward")

    def framework_version(self, model: Any) -> str | None:
        # A user's module subclasses nn.Module from its own package: ask torch, not that package.
        return package_version("torch")

    def parameters(self, model: Any) -> int | None:
        """Parameter count at wrap time: one pass over the parameter tensors, never their data."""
        try:
            return sum(int(p.numel()) for p in model.parameters())
        except Exception:  # lazy modules' uninitialised parameters have no size yet
            return None
