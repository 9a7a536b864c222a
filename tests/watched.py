"""A subprocess whose output a thread reads line by line, so that a test waits for the line
saying the process is ready (and reads all it wrote) instead of polling with sleeps."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence


class WatchedProcess:
    """Runs ``args`` with stdout and stderr merged; ``lines`` holds all it wrote so far."""

    def __init__(self, args: Sequence[str], *, ready: str, env: Mapping[str, str] | None = None) -> None:
        self.ready = ready
        self.lines: list[str] = []
        self._ready: queue.Queue[str | None] = queue.Queue()
        self._new_line = threading.Condition()
        self.process = subprocess.Popen(
            list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()
            if self.ready in line:
                self._ready.put(line)
        self._ready.put(None)  # the process exited
        with self._new_line:
            self._new_line.notify_all()

    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 60) -> str:
        """The first line containing ``ready``; AssertionError if the process exits first or
        ``timeout`` seconds pass."""
        try:
            line = self._ready.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"timed out waiting for {self.ready!r}") from None
        if line is None:
            raise AssertionError(f"the process exited: {self.output()[-2000:]}")
        return line

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The first line so far or to come that contains ``text``; AssertionError if the
        process exits first or ``timeout`` seconds pass."""
        with self._new_line:
            found = self._new_line.wait_for(
                lambda: (
                    next((line for line in self.lines if text in line), None)
                    or self.process.poll() is not None
                ),
                timeout,
            )
        line = next((line for line in self.lines if text in line), None)
        if line is None:
            state = "the process exited" if found else f"timed out waiting for {text!r}"
            raise AssertionError(f"{state}: {self.output()[-2000:]}")
        return line

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` (killing the process if it outlives ``timeout``); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode
