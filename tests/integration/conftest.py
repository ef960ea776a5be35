"""Shared fixtures of the integration suite: a recording target, free ports, child processes,
a headless browser.

Everything binds 127.0.0.1 and is stopped at teardown, so a failing test leaves no server or
Locust process behind.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration import background_demo
from tests.integration.browser import open_browser
from tests.integration.child_processes import ChildProcesses
from tests.integration.recording_server import RecordingServer


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    """A fresh recording HTTP server (own process) at ``recording_server.url``."""
    with RecordingServer() as server:
        yield server


def _free_port() -> int:
    """A port below the kernel's ephemeral range that nothing listens on: a port from
    ``bind(0)`` is ephemeral, and the many client connections of a load test can take it
    as their local port between this probe and the server's bind ("Address already in use")."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(20_000, low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in 20000..{low - 1}")


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 where it cannot be read)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as ports:
            return max(int(ports.read().split()[0]), 20_001)
    except (OSError, ValueError, IndexError):
        return 32_768


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Call to get a TCP port of 127.0.0.1 that was free a moment ago (nothing listens)."""
    return _free_port


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


@pytest.fixture
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium driven by selenium (``tests/integration/browser.py``); the test is
    skipped, with the reason, when Chromium, chromedriver or selenium is missing."""
    folder = tmp_path_factory.mktemp("browser")
    driver = open_browser(folder / "profile", folder / "chromedriver.log")
    try:
        yield driver
    finally:
        driver.quit()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start ``swarm demo`` in the background when its tests are selected (see background_demo)."""
    if any(item.nodeid.startswith("tests/integration/test_demo.py") for item in session.items):
        background_demo.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    background_demo.stop()
