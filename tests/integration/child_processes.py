"""Child processes of integration tests: started in sessions of their own, all stopped after.

``ChildProcesses`` is what the ``child_processes`` fixtures hand out; tests that need its
type or ``is_alive`` import them from here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_DEADLINE_S = 10.0


def pids_with_marker(marker: str) -> list[int]:
    """Pids of live processes whose command line contains ``marker`` (like ``pgrep -f``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(
                line for line in (entry / "status").read_text().splitlines() if line[:6] == "State:"
            )
        except (OSError, StopIteration):
            continue
        if marker in cmdline and "zombie" not in state:
            found.append(int(entry.name))
    return found


class ChildProcesses:
    """Starts child processes in their own sessions and stops all of them at teardown.

    ``marker`` names a unique string (a run id) in the command lines of processes the child
    starts in sessions of their own, such as the Locust process under ``swarm run``; teardown
    stops those too, by pid. Descendants seen by ``remember`` (and at teardown) are killed
    too, wherever their session is.
    """

    def __init__(self) -> None:
        self._children: list[subprocess.Popen[str]] = []
        self._markers: list[str] = []
        self._seen: dict[int, psutil.Process] = {}

    def start(
        self,
        command: list[str],
        *,
        marker: str | None = None,
        log: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        **kwargs: object,
    ) -> subprocess.Popen[str]:
        """``Popen(command)`` in a new session, so its whole group can be signalled.

        ``log``: stdout and stderr go to this file, and the child runs in its folder;
        ``extra_env``: added to this process's environment (output unbuffered).
        """
        if extra_env is not None:
            kwargs.setdefault("env", {**os.environ, "PYTHONUNBUFFERED": "1", **extra_env})
        kwargs.setdefault("cwd", log.parent if log is not None else REPO_ROOT)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("text", True)
        if marker is not None:
            self._markers.append(marker)
        with contextlib.ExitStack() as stack:
            if log is not None:
                kwargs.setdefault("stdout", stack.enter_context(log.open("w")))
                kwargs.setdefault("stderr", subprocess.STDOUT)
            child = subprocess.Popen(command, start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self._children.append(child)
        return child

    def remember(self) -> None:
        """Note every descendant of the children now, to kill at teardown any that outlive
        them (a process that left the children's sessions, or whose parent died)."""
        for child in self._children:
            with contextlib.suppress(psutil.NoSuchProcess):
                parent = psutil.Process(child.pid)
                for process in [parent, *parent.children(recursive=True)]:
                    self._seen.setdefault(process.pid, process)

    @staticmethod
    def pids_with_marker(marker: str) -> list[int]:
        """Live processes whose command line contains ``marker``; see ``pids_with_marker``."""
        return pids_with_marker(marker)

    def stop_all(self) -> None:
        self.remember()
        for child in self._children:
            if child.poll() is None:
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_DEADLINE_S
        for child in self._children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.pid, signal.SIGKILL)
                child.wait(STOP_DEADLINE_S)
        for marker in self._markers:
            for pid in pids_with_marker(marker):
                _signal_group(pid, signal.SIGKILL, group=False)
        leftovers = [p for p in self._seen.values() if is_alive(p)]
        for process in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(leftovers, timeout=STOP_DEADLINE_S)


def is_alive(process: psutil.Process) -> bool:
    """Running and not a zombie."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _signal_group(pid: int, sig: signal.Signals, *, group: bool = True) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
