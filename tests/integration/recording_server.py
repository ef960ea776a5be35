"""A real HTTP target for integration tests that records every request it answers.

It runs in its own Python process (``python -m tests.integration.recording_server``): the
test process imports Locust, which monkey-patches threads and sockets with gevent, and a
server thread there would only answer while the test happens to yield to the gevent hub. In
a process of its own it answers Locust in-process, Locust as a subprocess and ``swarm run``
alike.

Routes (any method)::

    /ok        200  {"verdict": "clean", "score": 0.5, "labels": ["a"]}
    /created   201  {"created": true}
    /slow      200  {"verdict": "slow", ...} after SLOW_S (300 ms)
    /fail      500  {"error": "boom"}
    /login     200  {"token": "tok-N"} (N counts logins)
    /items     200  {"items": [{"id": 7}, {"id": 8}]}, header ETag: "v1"
    /jobs      201  {"job": "jN"} (a new job; N counts jobs)
    /jobs/ID   200  {"state": "running"} until its JOB_POLLS-th read, then {"state": "done"}
    other      404  {"error": "not found"}

Control routes (not recorded): ``GET /__records`` returns every recorded request as JSON,
``POST /__reset`` forgets them. ``/slow`` answers with a different ``verdict`` than ``/ok``
so a client that reads a late ``/slow`` answer as the reply to its next request is caught
by a JSON check.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.integration.server_process import ServerProcess, serve

__all__ = [
    "JOB_POLLS",
    "OK_BODY",
    "SLOW_BODY",
    "SLOW_S",
    "RecordedRequest",
    "RecordingServer",
]

OK_BODY = {"verdict": "clean", "score": 0.5, "labels": ["a"]}
SLOW_BODY = {"verdict": "slow", "score": 0.9, "labels": ["s"]}
SLOW_S = 0.3
_ROUTES: dict[str, tuple[int, dict[str, Any], float]] = {
    "/ok": (200, OK_BODY, 0.0),
    "/created": (201, {"created": True}, 0.0),
    "/slow": (200, SLOW_BODY, SLOW_S),
    "/fail": (500, {"error": "boom"}, 0.0),
}
_NOT_FOUND = (404, {"error": "not found"}, 0.0)
JOB_POLLS = 3
"""A job reads ``done`` from its third status request on (the flow tests' polls)."""
_ITEMS = {"items": [{"id": 7}, {"id": 8}]}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; ``headers`` keeps every line, in order."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: tuple[tuple[str, str], ...]
    body: str
    received_at: float

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case); ``ValueError`` if it was sent twice."""
        values = self.header_values(name)
        if len(values) > 1:
            raise ValueError(f"header {name!r} sent {len(values)} times: {values}")
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        """Every value sent for header ``name``, compared case-insensitively."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class _Recorder:
    """The list of requests, shared by the server's handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._counts: dict[str, int] = {}

    def bump(self, key: str) -> int:
        """Count one more of ``key`` (logins, jobs, a job's reads); the new count."""
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Locust's clients expect
    disable_nagle_algorithm = True  # else a body written after its headers waits ~40 ms
    recorder: _Recorder  # set on the subclass made by _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        url = urlsplit(self.path)
        if url.path == "/__records":
            self._reply(200, self.recorder.snapshot())
            return
        if url.path == "/__reset":
            self.recorder.clear()
            self._reply(200, {"reset": True})
            return
        self.recorder.add(
            {
                "method": self.command,
                "path": url.path,
                "query": parse_qs(url.query, keep_blank_values=True),
                "headers": list(self.headers.items()),
                "body": body,
                "received_at": time.time(),
            }
        )
        if url.path == "/login":
            self._reply(200, {"token": f"tok-{self.recorder.bump('login')}"})
            return
        if url.path == "/items":
            self._reply(200, _ITEMS, {"ETag": '"v1"'})
            return
        if url.path == "/jobs":
            self._reply(201, {"job": f"j{self.recorder.bump('job')}"})
            return
        if url.path.startswith("/jobs/"):
            reads = self.recorder.bump(url.path)
            self._reply(200, {"state": "done" if reads >= JOB_POLLS else "running"})
            return
        status, payload, delay_s = _ROUTES.get(url.path, _NOT_FOUND)
        if delay_s:
            time.sleep(delay_s)
        self._reply(status, payload)

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout); nothing to do

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hung up: expected
            super().handle_error(request, client_address)


def _serve() -> None:
    """Bind 127.0.0.1 on a free port, print ``PORT <n>``, serve until SIGTERM or SIGINT."""
    handler = type("Handler", (_Handler,), {"recorder": _Recorder()})
    server = _Server(("127.0.0.1", 0), handler)
    serve(server)


class RecordingServer(ServerProcess):
    """Handle on a recording server process; use as a context manager or call ``stop()``.

    >>> with RecordingServer() as server:  # doctest: +SKIP
    ...     urllib.request.urlopen(server.url + "/ok").status
    ...     [r.path for r in server.requests()]
    200
    ['/ok']
    """

    def __init__(self) -> None:
        super().__init__(__name__)

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Every request received so far (only those to ``path`` if given), in arrival order."""
        with urllib.request.urlopen(self.url + "/__records", timeout=10) as response:
            raw = json.load(response)
        records = [
            RecordedRequest(
                method=r["method"],
                path=r["path"],
                query=r["query"],
                headers=tuple((k, v) for k, v in r["headers"]),
                body=r["body"],
                received_at=r["received_at"],
            )
            for r in raw
        ]
        return [r for r in records if path is None or r.path == path]

    def reset(self) -> None:
        request = urllib.request.Request(self.url + "/__reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def __enter__(self) -> RecordingServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    _serve()
