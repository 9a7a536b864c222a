"""First start: an organisation, an admin user and an admin key, and the credentials file.

With ``AITHER_INIT_ORG``, ``AITHER_INIT_ADMIN_EMAIL`` and ``AITHER_INIT_API_KEY`` set, the
server uses those values, so scripts and containers are reproducible; otherwise it generates a
key, prints it once, and writes ``<home>/credentials.json`` (mode 0600;
:mod:`aither.schema.credentials`), where the SDK finds it when ``AITHER_API_KEY`` is unset.
Later starts find the organisation and create nothing; they only update the ``base_url`` of an
existing credentials file when the port changed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy.engine import Connection

from ..schema.credentials import read_credentials, write_credentials
from .auth import SCOPES, generate_key, hash_key, key_tail
from .config import ServerSettings
from .storage import Storage
from .storage.accounts import ROLE_ADMIN, create_key, create_organization, create_user, has_organization
from .storage.engine import serialise_startup

PLAN = "self-hosted"


@dataclass(frozen=True)
class BootstrapResult:
    """What the first start created; ``created`` is False on every later start."""

    created: bool
    api_key: str | None = None
    """The admin key's secret, when this start created it (None on later starts)."""
    generated: bool = False
    """True when the key was generated rather than taken from ``AITHER_INIT_API_KEY``."""
    org_id: str | None = None
    key_id: str | None = None


def bootstrap(storage: Storage, settings: ServerSettings) -> BootstrapResult:
    """Create the organisation, admin user and admin key if the database has no organisation."""
    secret = settings.init_api_key or generate_key()

    def create(connection: Connection) -> BootstrapResult:
        serialise_startup(connection)  # two servers' first starts at once make one organisation
        if has_organization(connection):
            return BootstrapResult(created=False)
        now = time.time_ns()
        org = create_organization(connection, settings.init_org, PLAN, now)
        user = create_user(
            connection, org["id"], email=settings.init_admin_email, name="Admin", role=ROLE_ADMIN, now_ns=now
        )
        key = create_key(
            connection,
            org_id=org["id"],
            user_id=user["id"],
            name="admin",
            key_hash=hash_key(secret),
            tail=key_tail(secret),
            scopes=frozenset(SCOPES),
            now_ns=now,
        )
        return BootstrapResult(
            created=True,
            api_key=secret,
            generated=settings.init_api_key is None,
            org_id=org["id"],
            key_id=key["id"],
        )

    return storage.writer.run(create)


def announce(result: BootstrapResult, settings: ServerSettings, stream: TextIO | None = None) -> None:
    """Tell the user what the first start created; the generated key is shown this once."""
    if not result.created:
        return
    out = stream or sys.stderr
    out.write(f"aither: created organisation {settings.init_org!r} and admin {settings.init_admin_email!r}\n")
    if result.generated and result.api_key:
        out.write(f"aither: admin API key (shown once): {result.api_key}\n")
        if settings.write_credentials:
            out.write(f"aither: saved to {settings.credentials_path} (readable only by you)\n")
    out.flush()


def first_start(storage: Storage, settings: ServerSettings) -> BootstrapResult:
    """Bootstrap, write the credentials file for a generated key, and announce it."""
    result = bootstrap(storage, settings)
    if result.created and result.generated and result.api_key and settings.write_credentials:
        write_credentials(settings.credentials_path, result.api_key, settings.base_url)
    elif not result.created and settings.write_credentials:
        # a later start on another port: keep the saved key, point the SDK at the new address
        saved = read_credentials(settings.credentials_path)
        if saved.get("api_key") and saved.get("base_url") != settings.base_url:
            write_credentials(settings.credentials_path, saved["api_key"], settings.base_url)
    if settings.announce:
        announce(result, settings)
    return result
