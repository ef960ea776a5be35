"""A real service under abuse: idle and trickling sockets, malformed floods, huge heads.

Each test starts its own ``python -m mock_detectors`` with short timeouts or a low
file-descriptor limit, and bounds every loop in count and time.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.mock_detectors.conftest import (
    MockService,
    free_ports,
    request,
    start_service,
    write_config,
)

pytestmark = pytest.mark.integration

IDLE_SOCKETS = 1_500
MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\n\r\n",
    b"POST /detect HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
    b"POST /detect HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"\xff\xfe\x00\x01" * 64,
    b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
]


def one_detector(tmp_path: Path) -> tuple[Path, int]:
    (port,) = free_ports(1)
    config = write_config(
        tmp_path / "d.yaml",
        f"detectors:\n  one:\n    port: {port}\n    latency: {{model: fixed, ms: 0}}\n",
    )
    return config, port


@contextlib.contextmanager
def running(config: Path, *flags: str, **kwargs: object) -> Iterator[MockService]:
    service = start_service(config, *flags, **kwargs)  # type: ignore[arg-type]
    try:
        yield service
    finally:
        assert service.stop() == 0, "\n".join(service.stderr)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_until_closed(sock: socket.socket, deadline_s: float = 5.0) -> bytes:
    """Everything the server sends until it closes (bounded by ``deadline_s``)."""
    sock.settimeout(deadline_s)
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def closed_by_server(sock: socket.socket) -> bool:
    """True if the server has closed ``sock`` (without waiting)."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def poll(check: Callable[[], object], deadline_s: float) -> object:
    deadline = time.monotonic() + deadline_s
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def test_a_complete_head_over_64_kib_in_one_send_is_431(tmp_path: Path) -> None:
    config, port = one_detector(tmp_path)
    with running(config), connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"exceed 64 KiB" in answer


def test_idle_connections_are_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    config, port = one_detector(tmp_path)
    with running(config, "--idle-timeout", "0.5"):
        with connect(port) as silent, connect(port) as kept_alive:
            kept_alive.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert kept_alive.recv(65536).startswith(b"HTTP/1.1 200 OK")
            opened = time.monotonic()
            assert read_until_closed(silent) == b""
            assert read_until_closed(kept_alive) == b""
            waited = time.monotonic() - opened
        assert waited >= 0.45, f"closed after {waited:.2f} s, before the 0.5 s timeout"
        with connect(port) as fresh:  # the service goes on serving
            fresh.sendall(b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert read_until_closed(fresh).startswith(b"HTTP/1.1 200 OK")


def test_slow_headers_get_408_after_the_header_timeout(tmp_path: Path) -> None:
    config, port = one_detector(tmp_path)
    with running(config, "--header-timeout", "0.5", "--idle-timeout", "30"), connect(port) as slow:
        slow.sendall(b"GET /health HT")
        sent = time.monotonic()
        answer = read_until_closed(slow)
        waited = time.monotonic() - sent
    assert answer.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in answer
    assert b"did not arrive within 0.5 s" in answer
    assert waited >= 0.45, f"answered after {waited:.2f} s, before the 0.5 s timeout"


def test_the_soft_fd_limit_is_raised_to_the_hard_limit(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < 2048:
        pytest.skip(f"the hard limit here is {hard}; the test lowers the soft one below it")
    config, _ = one_detector(tmp_path)
    with running(config, fd_limits=(512, 2048)) as service:
        limits = Path(f"/proc/{service.process.pid}/limits").read_text()
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert line.split()[3:5] == ["2048", "2048"]


def test_max_connections_beyond_the_fd_limit_exits_2(tmp_path: Path) -> None:
    config, _ = one_detector(tmp_path)
    with pytest.raises(RuntimeError, match=r"exit 2\).*--max-connections 5000 does not fit"):
        start_service(config, "--max-connections", "5000", fd_limits=(1024, 1024))


def test_health_answers_through_1500_idle_sockets_and_a_malformed_flood(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's failure: under a 1,024-descriptor limit, 1,100 idle sockets left
    /health answering 0 of 5. Latencies are printed and recorded in
    benchmarks/README.md, not asserted: a shared 2-core machine makes them vary."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < IDLE_SOCKETS + 256:
        pytest.skip(f"this test needs {IDLE_SOCKETS + 256} descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    config, port = one_detector(tmp_path)
    url = f"http://127.0.0.1:{port}"
    idle: list[socket.socket] = []
    try:
        with running(config, fd_limits=(1024, 1024)):
            quiet = [request(url, "GET", "/health").elapsed_s for _ in range(20)]
            for index in range(IDLE_SOCKETS):
                sock = connect(port)
                if index % 2:
                    sock.sendall(b"GET /hea")  # a partial request line, never finished
                idle.append(sock)

            stop = threading.Event()
            flood_answers: list[bytes] = []

            def flood() -> None:
                for index in range(3_000):
                    if stop.is_set():
                        return
                    with contextlib.suppress(OSError), connect(port) as sock:
                        sock.sendall(MALFORMED[index % len(MALFORMED)])
                        flood_answers.append(read_until_closed(sock)[:12])

            flooders = [threading.Thread(target=flood) for _ in range(4)]
            for thread in flooders:
                thread.start()
            try:
                checks = []
                deadline = time.monotonic() + 30
                while len(checks) < 40 and time.monotonic() < deadline:
                    checks.append(request(url, "GET", "/health", timeout_s=5))
                    time.sleep(0.05)
            finally:
                stop.set()
                for thread in flooders:
                    thread.join(30)
            closed = poll(
                lambda: sum(closed_by_server(sock) for sock in idle) >= IDLE_SOCKETS - 1024,
                deadline_s=10,
            )
            metrics = request(url, "GET", "/metrics").body.decode()
    finally:
        for sock in idle:
            sock.close()

    assert len(checks) == 40 and all(check.status == 200 for check in checks)
    assert closed, "the service kept more idle sockets open than its descriptors allow"
    answered = [answer for answer in flood_answers if answer]  # a reset may drop a 431
    assert len(answered) > len(flood_answers) / 2
    assert all(answer.startswith((b"HTTP/1.1 4", b"HTTP/1.1 5")) for answer in answered)
    assert 'endpoint="health",status="200"' in metrics
    under_attack = [check.elapsed_s for check in checks]
    with capsys.disabled():
        print(
            f"\n/health quiet: median {statistics.median(quiet) * 1000:.1f} ms, "
            f"max {max(quiet) * 1000:.1f} ms; with {IDLE_SOCKETS} idle sockets and "
            f"{len(flood_answers)} malformed requests: median "
            f"{statistics.median(under_attack) * 1000:.1f} ms, "
            f"p90 {statistics.quantiles(under_attack, n=10)[-1] * 1000:.1f} ms, "
            f"max {max(under_attack) * 1000:.1f} ms, "
            f"{sum(t <= 0.2 for t in under_attack)} of {len(under_attack)} within 200 ms"
        )
