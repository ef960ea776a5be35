"""Start real mock-detector processes on free loopback ports, and talk HTTP to them."""

from __future__ import annotations

import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

READY = "mock detectors ready"
START_TIMEOUT_S = 20.0
REPO = Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    """Ports the OS just handed out and released; good enough on a quiet loopback."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    method: str = "GET",
    path: str = "/",
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> Reply:
    """One request on a fresh connection; ``elapsed_s`` spans send to full answer."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    if isinstance(body, dict | list):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        connection.connect()
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, data, elapsed
        )
    finally:
        connection.close()


@dataclass
class MockService:
    """A running ``python -m mock_detectors``; ``urls`` maps detector name to base URL."""

    process: subprocess.Popen[str]
    urls: dict[str, str]
    lines: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def stop(self, timeout_s: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def start_service(
    config: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    fd_limits: tuple[int, int] | None = None,
) -> MockService:
    """Start the service and wait (bounded) until it prints its ready line.

    ``fd_limits`` sets the child's (soft, hard) ``RLIMIT_NOFILE`` before it starts.
    """

    def limit_fds() -> None:
        if fd_limits is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, fd_limits)

    process = subprocess.Popen(
        [sys.executable, "-m", "mock_detectors", "--config", str(config), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        preexec_fn=limit_fds if fd_limits is not None else None,
    )
    service = MockService(process, {})
    threading.Thread(target=_drain, args=(process.stderr, service.stderr), daemon=True).start()
    lines: list[str] = []
    ready = threading.Event()

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(READY):
                ready.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(
                f"mock detectors did not start (exit {process.returncode}): "
                + "\n".join(lines + service.stderr)
            )
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("http://"):
            service.urls[parts[0]] = parts[1]
    service.lines = lines
    return service


def _drain(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line.rstrip("\n"))


MAIN_CONFIG = """
max_body_bytes: 2048
detectors:
  fast:
    port: {p0}
    seed: 1
    latency: {{model: fixed, ms: 0}}
  counted:
    port: {p1}
    latency: {{model: fixed, ms: 0}}
  mixed:
    port: {p2}
    seed: 7
    latency: {{model: fixed, ms: 0}}
    errors: {{rate: 0.3, statuses: {{500: 1, 503: 1, 429: 1}}}}
  observed:
    port: {p3}
    seed: 11
    latency: {{model: uniform, min_ms: 20, max_ms: 100}}
  hanging:
    port: {p4}
    seed: 5
    latency: {{model: fixed, ms: 2}}
    timeouts: {{rate: 0.2, hang: {{model: fixed, ms: 300}}, status: 504}}
  batch:
    port: {p5}
    seed: 3
    latency: {{model: fixed, ms: 10}}
    batch: {{per_item_ms: 4, max_items: 50}}
  faulty:
    port: {p6}
    seed: 9
    latency: {{model: fixed, ms: 1}}
"""


@pytest.fixture(scope="package")
def mocks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockService]:
    """One service with a detector per concern, shared by the integration tests."""
    ports = free_ports(7)
    text = MAIN_CONFIG.format(**{f"p{i}": port for i, port in enumerate(ports)})
    config = write_config(tmp_path_factory.mktemp("mocks") / "detectors.yaml", text)
    service = start_service(config)
    yield service
    code = service.stop()
    assert code == 0, "\n".join(service.stderr)
