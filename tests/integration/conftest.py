"""Shared fixtures of the integration suite: a recording target, free ports, child processes.

Everything binds 127.0.0.1 and is stopped at teardown, so a failing test leaves no server or
Locust process behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from recording_server import RecordingServer

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_DEADLINE_S = 10.0


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    """A fresh recording HTTP server (own process) at ``recording_server.url``."""
    with RecordingServer() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Call to get a TCP port of 127.0.0.1 that was free a moment ago (nothing listens)."""
    return _free_port


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
    stops those too, by pid.
    """

    def __init__(self) -> None:
        self._children: list[subprocess.Popen[str]] = []
        self._markers: list[str] = []

    def start(
        self, command: list[str], *, marker: str | None = None, **kwargs: object
    ) -> subprocess.Popen[str]:
        """``Popen(command)`` in a new session, so its whole group can be signalled."""
        kwargs.setdefault("cwd", REPO_ROOT)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("text", True)
        if marker is not None:
            self._markers.append(marker)
        child = subprocess.Popen(command, start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self._children.append(child)
        return child

    @staticmethod
    def pids_with_marker(marker: str) -> list[int]:
        """Live processes whose command line contains ``marker``; see ``pids_with_marker``."""
        return pids_with_marker(marker)

    def stop_all(self) -> None:
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


def _signal_group(pid: int, sig: signal.Signals, *, group: bool = True) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def child_processes() -> Iterator[ChildProcesses]:
    """Start Locust or ``swarm`` with ``child_processes.start([...])``; all stopped at teardown."""
    children = ChildProcesses()
    try:
        yield children
    finally:
        children.stop_all()


@pytest.fixture(scope="module")
def module_child_processes() -> Iterator[ChildProcesses]:
    """``child_processes`` for module-scoped fixtures (one run shared by several tests)."""
    children = ChildProcesses()
    try:
        yield children
    finally:
        children.stop_all()
