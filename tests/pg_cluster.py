"""A throwaway PostgreSQL cluster on a free port, for the tests that need a real one.

Skips the calling test, saying which, only when the PostgreSQL binaries (initdb, pg_ctl),
psycopg, or (as root) the postgres account to run them as are missing; a cluster that is
installed but does not start fails the test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15", "14", "13"):
        candidate = f"/usr/lib/postgresql/{version}/bin/{name}"
        if os.path.exists(candidate):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster; yield its SQLAlchemy URL; stop it and delete its files."""
    pytest.importorskip("psycopg")
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    directory = tempfile.mkdtemp(prefix="aither-pg-")
    if os.geteuid() == 0:  # initdb refuses to run as root: run the cluster as the postgres user
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(directory)
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
        os.chown(directory, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(directory, "data"), _free_port()
    try:
        subprocess.run(
            [*as_user, initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *as_user,
                pg_ctl,
                "-D",
                data,
                "-w",
                "-t",
                "60",
                "-l",
                os.path.join(directory, "log"),
                "-o",
                f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        # PostgreSQL is installed, so a cluster that does not start is a failure, not a skip
        output = getattr(exc, "stderr", None) or b""
        log = os.path.join(directory, "log")
        if os.path.exists(log):
            with open(log, "rb") as handle:
                output += handle.read()[-2000:]
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL ({exc}): {output.decode(errors='replace')}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True, check=False
        )
        shutil.rmtree(directory, ignore_errors=True)
