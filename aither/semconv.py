"""Re-export of :mod:`aither.schema.semconv`, where the span attribute names now live.

Kept so that ``from aither import semconv`` and ``aither.semconv.X`` keep working; new code
imports :mod:`aither.schema.semconv`.
"""

from __future__ import annotations

from .schema.semconv import *  # noqa: F403
from .schema.semconv import __all__ as __all__  # noqa: PLC0414  (the explicit re-export form)
