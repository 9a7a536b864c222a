"""``aither server`` as a real process on a free port, for tests and benchmarks that need several.

:meth:`ServerProcess.start` waits (with a deadline) for the line the server prints once its
startup is done, which names the port ``--port 0`` took; :meth:`kill` is SIGKILL, a crash.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

_SERVING = re.compile(r"aither server: serving on (\S+)")


class ServerProcess:
    """One ``aither server`` process. ``env`` is added to this process's environment."""

    def __init__(
        self,
        *,
        home: Path,
        database_url: str,
        env: dict[str, str] | None = None,
        log_level: str = "warning",
        port: int = 0,
    ) -> None:
        """``port``: 0 takes a free one at each start; a fixed one lets a restarted server come
        back where a collector in front of it keeps sending."""
        self.home = home
        self.database_url = database_url
        self.env = {**os.environ, "AITHER_HOME": str(home), **(env or {})}
        self.log_level = log_level
        self.port = port
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        self.lines = []
        self.base_url = ""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aither.cli", "server", "--port", str(self.port)]
            + ["--db", self.database_url, "--log-level", self.log_level],
            env=self.env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self.process,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.base_url:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    self.kill()
                    raise RuntimeError("aither server did not start:\n" + "".join(self.lines[-30:]))
                self._changed.wait(min(left, 1.0))  # wakes at each line, or to see the process end
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            with self._changed:
                self.lines.append(line)
                found = _SERVING.search(line)
                if found and process is self.process:
                    self.base_url = found.group(1)
                self._changed.notify_all()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to finish anything (a crash, an OOM kill)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
        self._close()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait: the server finishes its queued writes and hands its lease over."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.join(10)  # it ends at the pipe's end of file, once the process has gone
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
