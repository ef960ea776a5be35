"""A test HTTP server run as a module in its own process (``python -m MODULE`` from the
repository's root), which prints ``PORT <n>`` once it listens: started, found and stopped
the same way for every such server.

Its own process keeps the server out of reach of Locust's gevent patching in the test
process, which would otherwise stall it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from http.server import HTTPServer
from pathlib import Path

__all__ = ["ServerProcess", "serve"]

REPO_ROOT = Path(__file__).resolve().parents[2]
_START_DEADLINE_S = 10.0
_STOP_DEADLINE_S = 5.0


def serve(server: HTTPServer) -> None:
    """The server process's side: print ``PORT <n>``, serve until SIGTERM or SIGINT."""

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.05)
    server.server_close()


class ServerProcess:
    """Handle on ``python -m module``; a context manager. ``url`` is where it listens."""

    def __init__(self, module: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            self.port = self._read_port(module)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def _read_port(self, name: str) -> int:
        assert self._process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self._process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(_START_DEADLINE_S)
        line = result[0] if result else ""
        if not line.startswith("PORT "):
            raise RuntimeError(
                f"{name} did not start within {_START_DEADLINE_S:g} s (got {line!r})"
            )
        return int(line.split()[1])

    @property
    def pid(self) -> int:
        return self._process.pid

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after a deadline) and reap it."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(_STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(_STOP_DEADLINE_S)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
