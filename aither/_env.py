"""The process environment, read in one place, and the one parser of true/false values.

The SDK's settings (:mod:`aither._settings`) and the server's (:mod:`aither.server.config`)
both read ``AITHER_*`` variables; they share :func:`parse_bool` so that ``AITHER_DEBUG=yes``
and a server flag spelled the same way mean the same thing. This module imports nothing of
the SDK client, so the server can use it without loading the SDK.
"""

from __future__ import annotations

import os

from .exceptions import ConfigError

TRUE = frozenset({"1", "true", "yes", "on"})
"""Spellings of true (compared case-insensitively, after stripping)."""
FALSE = frozenset({"0", "false", "no", "off", ""})
"""Spellings of false; an empty value is false."""


def parse_bool(name: str, raw: str) -> bool:
    """``raw`` as a boolean; ConfigError naming ``name`` when it is neither spelling.

    Example:
        >>> parse_bool("AITHER_DEBUG", " Yes ")
        True
    """
    low = raw.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def env(name: str) -> str | None:
    """The variable's value as set (not stripped), or None when it is unset or blank."""
    value = os.environ.get(name)
    return value if value is not None and value.strip() != "" else None
