"""Child processes whose output is logged to a file and read line by line.

Locust masks the scenario's secrets in its own log records (``locust_glue.redaction``); the
few lines a child prints outside its logging (an interpreter's traceback) are masked here
line by line as they are copied, with the same declared secret values and nothing else.

Each child gets its own session, so a terminal Ctrl-C reaches swarm only, and swarm decides
how each child stops (a polite signal first, SIGKILL if it will not go). Two things are set
in each child before it runs (``child_setup``):

- SIGINT and SIGTERM are back to their default handling. A shell starts a background job
  (``swarm run … &`` in a script) with SIGINT ignored, an ignore is inherited across
  ``exec``, and Python then installs no ``KeyboardInterrupt`` handler: Locust would never
  see the SIGINT by which swarm asks it to stop.
- On Linux, the child gets SIGKILL when swarm dies (``PR_SET_PDEATHSIG``), so a SIGKILLed
  or crashed swarm takes its Locust master and workers with it instead of leaving them
  loading the target. The kernel sends it when the *thread* that started the child ends,
  so start children from a thread that outlives them (swarm uses its main thread).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

__all__ = ["LoggedProcess", "child_setup"]

LineHandler = Callable[[str], None]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_RESET_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _libc() -> ctypes.CDLL | None:
    """The C library for ``prctl``, loaded here: a forked child must not ``dlopen``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def child_setup() -> Callable[[], None]:
    """A ``preexec_fn`` for ``Popen``: default SIGINT/SIGTERM, and die with this process.

    Call it in the parent just before ``Popen`` (it notes the parent's pid); the function
    it returns runs in the child between ``fork`` and ``exec``, so it only makes system
    calls. If the parent is already gone by then, the child kills itself.
    """
    parent = os.getpid()

    def setup() -> None:
        for sig in _RESET_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _RESET_SIGNALS)
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    return setup


class LoggedProcess:
    """A running child: its output goes to ``log_path`` and, optionally, to ``echo`` (only the
    lines ``echoes`` accepts, when given)."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str],
        secrets: Iterable[str] = (),
        echo: TextIO | None = None,
        echoes: Callable[[str], bool] | None = None,
        on_line: LineHandler | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._echo = echo
        self._echoes = echoes
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
            preexec_fn=child_setup(),
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
            if self._echo is not None and (self._echoes is None or self._echoes(line)):
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
