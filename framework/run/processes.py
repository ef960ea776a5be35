"""Child processes whose output is logged to a file (secrets masked) and read line by line.

Each child gets its own session, so a terminal Ctrl-C reaches swarm only, and swarm decides
how each child stops (a polite signal first, SIGKILL if it will not go).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

__all__ = ["LoggedProcess"]

LineHandler = Callable[[str], None]


class LoggedProcess:
    """A running child: its output goes to ``log_path`` and, optionally, to ``echo``."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str],
        secrets: Iterable[str] = (),
        echo: TextIO | None = None,
        on_line: LineHandler | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._echo = echo
        self._on_line = on_line
        self.write_error: str | None = None
        self.process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._copy_output, name=f"log-{name}", daemon=True)
        self._pump.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _copy_output(self) -> None:
        """Copy the child's output; if the log cannot be written (a full disk), say so in
        ``write_error`` and keep reading, so the child never blocks on a full pipe."""
        assert self.process.stdout is not None
        log: TextIO | None = None
        try:
            log = self.log_path.open("w", encoding="utf-8")
        except OSError as exc:
            self._log_failed(exc)
        for line in self.process.stdout:
            for secret in self._secrets:
                line = line.replace(secret, "***")
            if log is not None:
                try:
                    log.write(line)
                    log.flush()
                except OSError as exc:
                    self._log_failed(exc)
                    _closed(log)
                    log = None
            if self._echo is not None:
                self._echo.write(line)
                self._echo.flush()
            if self._on_line is not None:
                self._on_line(line)
        if log is not None:
            _closed(log)

    def _log_failed(self, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        self.write_error = f"cannot write {self.log_path}: {reason[:1].lower()}{reason[1:]}"

    def poll(self) -> int | None:
        return self.process.poll()

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child's whole process group (Locust may fork helpers)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or ``None`` if still running after ``timeout`` seconds."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._pump.join(timeout=5)
        return code

    def stop(self, grace_s: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``grace_s``; returns the exit code."""
        if self.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(grace_s) is None:
                self.signal(signal.SIGKILL)
        code = self.wait()
        assert code is not None
        return code


def _closed(log: TextIO) -> None:
    """Close a log whose disk may be full (closing flushes, which may fail again)."""
    with contextlib.suppress(OSError):
        log.close()
