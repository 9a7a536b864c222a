"""A throwaway ClickHouse server for tests: Debian's ``clickhouse-server`` (18.16) from a short
XML config in a temporary directory, on free ports of 127.0.0.1, killed at exit.

It starts in a fraction of a second; :func:`start` waits (with a deadline) until the native
port answers a query. The server dies with the test process: it is stopped at fixture end, by
``atexit`` if the fixture never ends, and by the kernel (``PR_SET_PDEATHSIG``) if the test
process is killed outright.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

_CONFIG = """<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <mark_cache_size>5368709</mark_cache_size>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default></profiles>
  <quotas><default></default></quotas>
{extra}
</yandex>
"""


def binary() -> str | None:
    """The ``clickhouse-server`` binary, or None when it is not installed."""
    return shutil.which("clickhouse-server") or next(
        (path for path in ("/usr/sbin/clickhouse-server", "/usr/bin/clickhouse") if os.path.exists(path)),
        None,
    )


def free_port() -> int:
    """A TCP port of 127.0.0.1 free now (to name in a config before the server starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ClickHouseServer:
    process: subprocess.Popen[bytes]
    directory: str
    port: int

    @property
    def url(self) -> str:
        return f"clickhouse://default@127.0.0.1:{self.port}/aither"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # by its pid; nothing to keep
            self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start(
    deadline_s: float = 30.0, *, tcp_port: int | None = None, extra_config: str = ""
) -> ClickHouseServer:
    """Start a server; raise RuntimeError (with its error log) if it does not answer in time.

    ``tcp_port``: its native port (default: a free one), for servers that name each other in
    ``extra_config``: XML added inside ``<yandex>``, such as a ``<remote_servers>`` block.
    """
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error as DriverError

    path = binary()
    if path is None:
        raise FileNotFoundError("clickhouse-server")
    directory = tempfile.mkdtemp(prefix="aither-ch-")
    tcp, http = tcp_port or free_port(), free_port()
    config = os.path.join(directory, "config.xml")
    with open(config, "w") as handle:
        handle.write(_CONFIG.format(d=directory, tcp=tcp, http=http, extra=extra_config))
    command = [path, "server"] if path.endswith("/clickhouse") else [path]
    # setpriv (util-linux) sets PR_SET_PDEATHSIG: the kernel kills the server with this process
    setpriv = shutil.which("setpriv")
    die_with_us = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
    process = subprocess.Popen(
        [*die_with_us, *command, f"--config-file={config}"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = ClickHouseServer(process, directory, tcp)
    atexit.register(server.stop)
    # the driver logs every refused connection; refusals are expected until the server listens
    logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)
    give_up = time.monotonic() + deadline_s
    while True:
        probe = Client("127.0.0.1", port=tcp, connect_timeout=1)
        try:
            probe.execute("SELECT 1")
            return server
        except (DriverError, OSError, EOFError):
            if process.poll() is not None or time.monotonic() > give_up:
                log = os.path.join(directory, "error.log")
                text = ""
                if os.path.exists(log):
                    with open(log) as handle:
                        text = handle.read()[-2000:]
                server.stop()
                raise RuntimeError(f"clickhouse-server did not start: {text}") from None
            # Between probes, wait on the server process itself: it returns at once if the
            # server exits (the next probe then reports its log), within the deadline above.
            try:
                process.wait(timeout=0.02)
            except subprocess.TimeoutExpired:
                pass
        finally:
            probe.disconnect()


def start_cluster(name: str, shards: int = 2) -> list[ClickHouseServer]:
    """``shards`` servers whose ``remote_servers`` config names each of them as a shard of the
    cluster ``name`` (one replica each), for ``Distributed`` tables over their local ones."""
    ports = [free_port() for _ in range(shards)]
    replicas = "".join(
        f"<shard><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>" for port in ports
    )
    block = f"<remote_servers><{name}>{replicas}</{name}></remote_servers>"
    servers: list[ClickHouseServer] = []
    try:
        for port in ports:
            servers.append(start(tcp_port=port, extra_config=block))
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
