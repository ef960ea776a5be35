"""A target with a known capacity: one server that answers one request at a time.

Every request joins one first-in-first-out queue and is served for ``SERVICE_S`` (50 ms)
once it reaches the front, so the target does at most 20 requests per second whatever the
load, and N closed users without think time each wait about N × 50 ms (Little's law): 1
user sees 50 ms, 5 users 250 ms. A p95 budget between the two is met with confidence at
one load and failed with confidence at the other, which a capacity search can find.

Runs in its own process (``python -m tests.integration.queueing_server`` prints
``PORT <n>``), like ``recording_server``, so Locust's gevent patching cannot stall it.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.server_process import ServerProcess, serve

__all__ = ["SERVICE_S", "QueueingServer"]

SERVICE_S = 0.05
_JOBS: queue.Queue[threading.Event] = queue.Queue()


def _serve_one_at_a_time() -> None:
    while True:
        done = _JOBS.get()
        time.sleep(SERVICE_S)
        done.set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        done = threading.Event()
        _JOBS.put(done)
        done.wait()
        data = json.dumps({"served": True}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = _handle


def _serve() -> None:
    threading.Thread(target=_serve_one_at_a_time, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    serve(server)


class QueueingServer(ServerProcess):
    """Handle on a queueing server process; a context manager."""

    def __init__(self) -> None:
        super().__init__(__name__)

    def __enter__(self) -> QueueingServer:
        return self


if __name__ == "__main__":
    _serve()
