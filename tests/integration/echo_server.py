"""A target that echoes what it was sent — the API key header, the query, the path — back
in its answers, as a careless API does in its error messages.

Runs in its own process (``python echo_server.py`` prints ``PORT <n>``), like
``recording_server``, so Locust's gevent patching in a test process cannot stall it.

Routes (any method)::

    /echo/...   200  {"echo": {"key": <X-API-Key>, "q": <query key>, "path": <path>}}
    /deny/...   401  {"error": "invalid key <X-API-Key> for <path>?key=<query key>"}
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["EchoServer"]

_START_DEADLINE_S = 10.0
_STOP_DEADLINE_S = 5.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        key = self.headers.get("X-API-Key", "")
        query_key = parse_qs(url.query).get("key", [""])[0]
        if url.path.startswith("/echo/"):
            status, payload = 200, {"echo": {"key": key, "q": query_key, "path": url.path}}
        else:
            message = f"invalid key {key} for {url.path}?key={query_key}"
            status, payload = 401, {"error": message}
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = _handle


def _serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.05)
    server.server_close()


class EchoServer:
    """Handle on an echo server process; a context manager."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self._process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(_START_DEADLINE_S)
        line = result[0] if result else ""
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"echo server did not start (got {line!r})")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(_STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(_STOP_DEADLINE_S)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    _serve()
