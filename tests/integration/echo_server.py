"""A target that echoes what it was sent — the API key header, the query, the path — back
in its answers, as a careless API does in its error messages.

Runs in its own process (``python -m tests.integration.echo_server`` prints ``PORT <n>``), like
``recording_server``, so Locust's gevent patching in a test process cannot stall it.

Routes (any method)::

    /echo/...   200  {"echo": {"key": <X-API-Key>, "q": <query key>, "path": <path>}}
    /deny/...   401  {"error": "invalid key <X-API-Key> for <path>?key=<query key>"}
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.integration.server_process import ServerProcess, serve

__all__ = ["EchoServer"]


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
    serve(server)


class EchoServer(ServerProcess):
    """Handle on an echo server process; a context manager."""

    def __init__(self) -> None:
        super().__init__(__name__)

    def __enter__(self) -> EchoServer:
        return self


if __name__ == "__main__":
    _serve()
