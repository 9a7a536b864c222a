"""What an object of aither does in a forked child: one registration, through a weak reference."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable


def after_fork_in_child(method: Callable[[], None]) -> None:
    """Call the bound ``method`` in every child forked from now on, while its object lives.

    Through a weak reference, as ``BatchSpanProcessor`` does: a fork hook cannot be
    unregistered, and a strong one would keep the object (a closed client's exporter, its
    prediction index) alive for good. Does nothing where the platform cannot fork.

    Args:
        method: A bound method of the object to notify; called on the child's only thread.
    """
    if not hasattr(os, "register_at_fork"):
        return
    ref = weakref.WeakMethod(method)

    def _after_fork_in_child() -> None:
        bound = ref()
        if bound is not None:
            bound()

    os.register_at_fork(after_in_child=_after_fork_in_child)
