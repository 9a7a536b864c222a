"""The credentials file: where ``aither server`` leaves its admin key for the SDK on the same machine.

``aither server``'s first start writes ``<home>/credentials.json`` (mode 0600)::

    {"api_key": "ak_...", "base_url": "http://127.0.0.1:4680"}

and the SDK reads it when ``AITHER_API_KEY`` is unset. ``<home>`` is ``$AITHER_HOME`` or
``~/.aither``, the data directory both share. The server writes, the SDK reads: both use this
module so that the location and the format live in one place.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Final

__all__ = [
    "API_KEY",
    "BASE_URL",
    "FILE_NAME",
    "HOME_VARIABLE",
    "aither_home",
    "credentials_path",
    "read_credentials",
    "write_credentials",
]

FILE_NAME: Final = "credentials.json"
"""The file's name inside the data directory."""
API_KEY: Final = "api_key"
"""The key of the admin API key's secret."""
BASE_URL: Final = "base_url"
"""The key of the address the server listens on."""


HOME_VARIABLE: Final = "AITHER_HOME"
"""The variable that names the data directory (each side reads it with its own settings)."""


def aither_home(value: str | None) -> Path:
    """The data directory shared by the SDK and ``aither server``, given ``$AITHER_HOME``'s value:
    that directory, or ``~/.aither`` when it is unset or blank."""
    return Path(value).expanduser() if value and value.strip() else Path.home() / ".aither"


def credentials_path(home: Path) -> Path:
    """The credentials file in the data directory ``home``."""
    return home / FILE_NAME


def read_credentials(path: Path) -> dict[str, str]:
    """The file's ``{"api_key", "base_url"}``, or ``{}`` when it is missing or unreadable.

    Args:
        path: The file (:func:`credentials_path` of the data directory).

    Returns:
        Its string entries; never raises.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def write_credentials(path: Path, api_key: str, base_url: str) -> None:
    """Write ``{"api_key", "base_url"}`` to ``path`` atomically, readable only by the user.

    Args:
        path: The file; its directory is created when missing.
        api_key: The admin key's secret.
        base_url: The address the server listens on.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({API_KEY: api_key, BASE_URL: base_url}, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
