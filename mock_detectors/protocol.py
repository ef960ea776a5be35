"""A lean HTTP/1.1 server as an ``asyncio.Protocol``, built to keep latency honest.

Why not aiohttp or a WSGI server: a mock must not add latency of its own. Measured
on one core before this was written, gevent.pywsgi stalled at ~1,100 rps (headers
and body in two sends meet delayed ACK), and aiohttp/uvicorn at 50 ms of injected
delay served ~1,900 rps with a 52–54 ms median for 100 connections. This server
parses with ``bytes.find``, answers with one ``write`` per response (one packet,
no delayed-ACK stall) and waits with ``loop.call_at`` timers instead of a coroutine
per sleep, which costs far less per request.

What it supports: keep-alive (HTTP/1.1 default; ``Connection: keep-alive`` on 1.0),
pipelining (answers leave in request order even when a later one is ready first),
``Content-Length`` and chunked bodies, ``Expect: 100-continue``, a body limit
checked before reading (413), a header limit (431), and malformed requests (400).

The application behind it implements ``Application``: it turns a ``Request`` into a
``Response`` that may carry a delay, and is told when each answer leaves or is
abandoned because the client hung up.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Protocol, cast

from mock_detectors.chunked import ChunkedBodyError, take_chunked

__all__ = [
    "MAX_HEAD_BYTES",
    "Application",
    "HttpProtocol",
    "Request",
    "Response",
    "encode_response",
    "json_response",
]

MAX_HEAD_BYTES = 64 * 1024
"""Request line plus headers; beyond this the answer is 431."""

_PAUSE_AT, _RESUME_AT = 256, 32  # pipelined answers queued on one connection
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps with options
# builds a new encoder per call; reusing one is measurably cheaper per request
_REASONS = {s.value: s.phrase for s in HTTPStatus} | {499: "Client Closed Request"}


@dataclass(slots=True)
class Request:
    """One parsed request. Header names are lower-case; ``arrived`` is ``loop.time()``."""

    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    body: bytes
    arrived: float


@dataclass(slots=True)
class Response:
    """An answer, written ``delay_s`` after the request arrived.

    ``endpoint`` is an opaque label the application gets back in ``finished``;
    ``close`` ends the connection after this answer.
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    close: bool = False
    endpoint: int = 0


def json_response(
    status: int,
    payload: Any,
    endpoint: int,
    *,
    delay_s: float = 0.0,
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """A compact JSON ``Response``."""
    body = _ENCODE(payload).encode()
    return Response(status, body, "application/json", headers, delay_s, False, endpoint)


class Application(Protocol):
    """What ``HttpProtocol`` needs from the service behind it."""

    max_body_bytes: int

    def handle(self, request: Request) -> Response:
        """Answer ``request``; called once per request, in arrival order."""
        ...

    def reject(self, status: int, message: str, path: str) -> Response:
        """Answer a request the server refused before it was complete (400, 413, 431)."""
        ...

    def started(self) -> None:
        """A request has been read; it is in flight until ``finished`` or ``abandoned``."""
        ...

    def finished(self, response: Response, elapsed_s: float) -> None:
        """``response`` was handed to the socket ``elapsed_s`` after its request arrived."""
        ...

    def abandoned(self, response: Response, elapsed_s: float) -> None:
        """The client left before ``response`` was sent."""
        ...


@dataclass(slots=True)
class _Pending:
    request_arrived: float
    response: Response | None = None
    data: bytes | None = None
    timer: asyncio.TimerHandle | None = None
    keep_alive: bool = True


@dataclass(slots=True)
class _Head:
    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    length: int
    chunked: bool
    keep_alive: bool


@dataclass
class _DateCache:
    """The ``Date`` header changes once a second; formatting it per request is waste."""

    second: int = -1
    text: str = ""

    def now(self, wall: float) -> str:
        second = int(wall)
        if second != self.second:
            self.second, self.text = second, formatdate(second, usegmt=True)
        return self.text


_DATE = _DateCache()


def encode_response(response: Response, keep_alive: bool, wall_time: float) -> bytes:
    """The bytes of ``response``, head and body in one buffer so they leave in one send."""
    lines = [
        f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}\r\n"
        f"Server: swarm-mock\r\nDate: {_DATE.now(wall_time)}\r\n"
        f"Content-Type: {response.content_type}\r\nContent-Length: {len(response.body)}\r\n"
    ]
    for name, value in response.headers:
        lines.append(f"{name}: {value}\r\n")
    if not keep_alive:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + response.body


class HttpProtocol(asyncio.Protocol):
    """One client connection. ``connections`` lets the server close all at shutdown."""

    def __init__(
        self,
        app: Application,
        loop: asyncio.AbstractEventLoop,
        connections: set[HttpProtocol],
        wall_clock: Callable[[], float],
    ) -> None:
        self._app = app
        self._loop = loop
        self._connections = connections
        self._wall = wall_clock
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._head: _Head | None = None
        self._pending: deque[_Pending] = deque()
        self._closing = False
        self._paused = False
        self._continue_sent = False

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # TCP servers make these
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._closing = True
        now = self._loop.time()
        while self._pending:
            pending = self._pending.popleft()
            if pending.timer is not None:
                pending.timer.cancel()
            if pending.data is None and pending.response is not None:
                self._app.abandoned(pending.response, now - pending.request_arrived)
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buffer += data
        self._parse()

    # -- shutdown ----------------------------------------------------------

    def close(self) -> None:
        """Drop the connection now; answers not yet sent are abandoned."""
        if self._transport is not None:
            self._transport.close()

    # -- parsing -----------------------------------------------------------

    def _parse(self) -> None:
        buffer = self._buffer
        while not self._closing and not self._paused:
            if self._head is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        self._refuse(431, "request line and headers exceed 64 KiB", "")
                    return
                head = self._parse_head(bytes(buffer[:end]))
                del buffer[: end + 4]
                if head is None:
                    return
                self._head = head
                self._continue_sent = False
            head = self._head
            if head.chunked:
                body = self._take_chunked()
            elif len(buffer) >= head.length:
                body = bytes(buffer[: head.length])
                del buffer[: head.length]
            else:
                self._maybe_continue(head)
                return
            if body is None:
                return
            self._head = None
            self._dispatch(head, body)

    def _parse_head(self, raw: bytes) -> _Head | None:
        text = raw.decode("latin-1")
        request_line, _, header_block = text.partition("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._refuse(400, f"malformed request line {request_line[:80]!r}", "")
            return None
        method, target, version = parts
        path, _, query = target.partition("?")
        headers: dict[str, str] = {}
        if header_block:
            for line in header_block.split("\r\n"):
                name, colon, value = line.partition(":")
                if not colon or not name or name[-1] in " \t":
                    self._refuse(400, f"malformed header line {line[:80]!r}", path)
                    return None
                headers[name.lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection
        chunked = False
        length = 0
        encoding = headers.get("transfer-encoding")
        if encoding is not None:
            if encoding.lower() != "chunked":
                self._refuse(501, f"transfer-encoding {encoding!r} is not supported", path)
                return None
            chunked = True
        elif "content-length" in headers:
            raw_length = headers["content-length"]
            if not raw_length.isdigit():
                self._refuse(400, f"invalid Content-Length {raw_length!r}", path)
                return None
            length = int(raw_length)
            if length > self._app.max_body_bytes:
                self._refuse(
                    413,
                    f"body of {length} bytes exceeds the limit of {self._app.max_body_bytes} bytes",
                    path,
                )
                return None
        return _Head(method, path, query, version, headers, length, chunked, keep_alive)

    def _maybe_continue(self, head: _Head) -> None:
        """Tell a client waiting on ``Expect: 100-continue`` to send its body."""
        if (
            not self._continue_sent
            and head.headers.get("expect", "").lower() == "100-continue"
            and self._transport is not None
        ):
            self._continue_sent = True
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _take_chunked(self) -> bytes | None:
        """The whole chunked body if it has arrived (consumed from the buffer), else None."""
        try:
            taken = take_chunked(self._buffer, self._app.max_body_bytes)
        except ChunkedBodyError as exc:
            self._refuse(exc.status, str(exc), self._head.path if self._head else "")
            return None
        if taken is None:
            if self._head is not None:
                self._maybe_continue(self._head)
            return None
        body, consumed = taken
        del self._buffer[:consumed]
        return body

    # -- answering ---------------------------------------------------------

    def _dispatch(self, head: _Head, body: bytes) -> None:
        arrived = self._loop.time()
        request = Request(
            head.method, head.path, head.query, head.version, head.headers, body, arrived
        )
        self._app.started()
        response = self._app.handle(request)
        keep_alive = head.keep_alive and not response.close
        if not keep_alive:
            self._closing = True  # read nothing more; close after this answer
        self._enqueue(response, arrived, keep_alive)

    def _refuse(self, status: int, message: str, path: str) -> None:
        """Answer a request we will not read to the end, then close the connection."""
        self._closing = True
        self._app.started()
        self._enqueue(self._app.reject(status, message, path), self._loop.time(), False)

    def _enqueue(self, response: Response, arrived: float, keep_alive: bool) -> None:
        pending = _Pending(arrived, response, keep_alive=keep_alive)
        self._pending.append(pending)
        if response.delay_s > 0:
            pending.timer = self._loop.call_at(arrived + response.delay_s, self._ready, pending)
        else:
            self._ready(pending)
        if len(self._pending) >= _PAUSE_AT and not self._paused and self._transport:
            self._paused = True
            self._transport.pause_reading()

    def _ready(self, pending: _Pending) -> None:
        response = cast(Response, pending.response)
        pending.timer = None
        pending.data = encode_response(response, pending.keep_alive, self._wall())
        self._app.finished(response, self._loop.time() - pending.request_arrived)
        self._flush()

    def _flush(self) -> None:
        transport = self._transport
        queue = self._pending
        while queue and queue[0].data is not None:
            pending = queue.popleft()
            if transport is None:
                return
            transport.write(cast(bytes, pending.data))
            if not pending.keep_alive:
                self._closing = True
                transport.close()
                return
        if self._paused and len(queue) <= _RESUME_AT and transport is not None:
            self._paused = False
            transport.resume_reading()
            if self._buffer:
                self._parse()
