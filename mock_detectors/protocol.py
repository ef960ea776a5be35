"""A lean HTTP/1.1 server as an ``asyncio.Protocol``, built to keep latency honest.

Why not aiohttp or a WSGI server: a mock must not add latency of its own. Measured
on one core before this was written, gevent.pywsgi stalled at ~1,100 rps (headers
and body in two sends meet delayed ACK), and aiohttp/uvicorn at 50 ms of injected
delay served ~1,900 rps with a 52–54 ms median for 100 connections. This server
answers with one ``write`` per response (one packet, no delayed-ACK stall) and waits
with ``loop.call_at`` timers instead of a coroutine per sleep, which costs far less
per request. The bytes are parsed by llhttp (Node's parser, through ``httptools``, as
uvicorn does): request smuggling, bad framing and odd whitespace are its job, not
ours, and it costs less per request than parsing in Python.

What it supports: keep-alive (HTTP/1.1 default; ``Connection: keep-alive`` on 1.0),
pipelining (answers leave in request order even when a later one is ready first),
``Content-Length`` and chunked bodies, ``Expect: 100-continue``, a body limit
checked before reading (413), a 64 KiB limit on the request line and headers (431),
malformed requests (400), and the timeouts and connection bound of
``connections.ConnectionTable`` (408 when headers are late, 503 when full).

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

import httptools

from mock_detectors.connections import ConnectionTable

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
_SLICE = 16 * 1024  # bytes fed to the parser at once, so a pause can stop between slices
_VERSIONS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}
_METHODS = {m.encode(): m for m in ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")}
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


class _Refusal(Exception):
    """Raised inside a parser callback to stop reading and answer ``status``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


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
    """One client connection; ``table`` bounds and times out the process's connections.

    llhttp calls the ``on_*`` methods while ``data_received`` feeds it. A request is
    dispatched whole (``on_message_complete``); until then only its size is tracked.
    """

    def __init__(
        self,
        app: Application,
        loop: asyncio.AbstractEventLoop,
        table: ConnectionTable,
        wall_clock: Callable[[], float],
    ) -> None:
        self._app = app
        self._loop = loop
        self._table = table
        self._wall = wall_clock
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._pending: deque[_Pending] = deque()
        self._closing = False
        self._paused = False
        self._write_blocked = False
        self._unread = b""  # data received while paused, fed on resume
        # the request being read
        self._in_head = True  # no request, or one whose headers are incomplete
        self._head_bytes = 0  # fed to the parser since the current head began
        self._head_size = 0  # header lines seen whole, in bytes (names, values, separators)
        self._head_started: float | None = None  # loop time of its first byte
        self._in_body = False
        self._body_read_at = 0.0  # loop time of the last body progress
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._chunked = False
        self._expect_continue = False
        self._version = "HTTP/1.1"
        self._now = self._idle_since = loop.time()

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # TCP servers make these
        if not self._table.opened(self):
            limit = self._table.limits.max_connections
            self._refuse(503, f"too many connections: this process holds {limit}, all busy")

    def connection_lost(self, exc: Exception | None) -> None:
        self._table.closed(self)
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
        if self._paused:
            self._unread += data
            return
        self._now = self._loop.time()  # one clock read per read, shared by the callbacks
        if self._in_body:
            self._body_read_at = self._now
        elif len(data) + self._head_bytes < min(MAX_HEAD_BYTES, _SLICE):
            # the usual read: one or more small requests, fed at once
            self._head_bytes += len(data)
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserError as exc:
                self._parser_error(exc)
                return
            except httptools.HttpParserUpgrade:
                return  # answered as a plain request, then closed: see on_message_complete
            if self._expect_continue:
                self._feed(b"")  # only its ending: the 100 Continue, if still wanted
            return
        self._feed(data)

    def pause_writing(self) -> None:
        """The client is not reading its answers: read no more of its requests until it
        does, so answers cannot pile up in memory (the idle timeout ends it)."""
        self._write_blocked = True
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_blocked = False
        if self._transport is not None and not self._paused and not self._closing:
            self._transport.resume_reading()

    # -- the connection table ------------------------------------------------

    def close(self) -> None:
        """Drop the connection now; answers not yet sent are abandoned."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def check_timeouts(self, now: float) -> None:
        """Answer 408 to a request read too slowly, or close an idle connection."""
        if self._closing or self._pending:
            return
        limits = self._table.limits
        if self._in_body:
            if now - self._body_read_at > limits.idle_timeout_s:
                self._refuse(
                    408, f"the request body stalled for more than {limits.idle_timeout_s:g} s"
                )
        elif self._head_started is not None:
            if now - self._head_started > limits.header_timeout_s:
                self._refuse(
                    408,
                    f"the request line and headers did not arrive within "
                    f"{limits.header_timeout_s:g} s",
                )
        elif now - self._idle_since > limits.idle_timeout_s:
            self.close()

    # -- feeding the parser ----------------------------------------------------

    def _feed(self, data: bytes) -> None:
        """Feed ``data`` in slices: a head is counted against ``MAX_HEAD_BYTES`` as it
        arrives, and a pause (too many answers queued) stops between slices.

        The count starts when the previous request ends; a pipelined head that begins
        inside a slice is also held to the limit by ``on_header``'s own count.
        """
        parser = self._parser
        while data:
            if self._in_head:
                room = MAX_HEAD_BYTES - self._head_bytes
                if room <= 0:
                    self._refuse(431, "request line and headers exceed 64 KiB")
                    return
                if room > _SLICE:
                    room = _SLICE
            else:
                room = _SLICE
            if len(data) > room:
                piece, data = data[:room], data[room:]
            else:
                piece, data = data, b""
            if self._in_head:
                self._head_bytes += len(piece)
            try:
                parser.feed_data(piece)
            except httptools.HttpParserError as exc:
                self._parser_error(exc)
                return
            except httptools.HttpParserUpgrade:
                pass  # answered as a plain request, then closed: see on_message_complete
            if self._closing or self._paused:
                break
        if self._closing:
            return
        if self._paused:
            self._unread = data + self._unread
        elif self._in_head:
            if self._head_bytes >= MAX_HEAD_BYTES:
                self._refuse(431, "request line and headers exceed 64 KiB")
        elif self._expect_continue:
            self._expect_continue = False
            if self._transport is not None:  # tell the client to send its body
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _parser_error(self, exc: httptools.HttpParserError) -> None:
        """A refusal raised in a callback, or llhttp's own complaint, becomes the answer."""
        cause = exc.__context__
        if isinstance(cause, _Refusal):
            self._refuse(cause.status, str(cause))
        elif self._closing:
            return  # after ``Connection: close`` the rest is not read
        elif isinstance(exc, httptools.HttpParserCallbackError) and cause is not None:
            raise cause  # a bug in the application: asyncio logs it and drops the connection
        else:
            self._refuse(400, f"malformed request: {exc}")

    # -- llhttp callbacks ------------------------------------------------------

    def on_message_begin(self) -> None:
        self._head_started = self._now

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD_BYTES:
            raise _Refusal(431, "request line and headers exceed 64 KiB")
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1").rstrip()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        version = self._parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise _Refusal(505, f"HTTP/{version} is not supported; send HTTP/1.1 or HTTP/1.0")
        self._version = _VERSIONS[version]
        headers = self._headers
        if "transfer-encoding" in headers:
            encoding = headers["transfer-encoding"]
            if encoding.lower() != "chunked":
                raise _Refusal(501, f"transfer-encoding {encoding!r} is not supported")
            self._chunked = True
        elif "content-length" in headers:
            length = int(headers["content-length"])  # llhttp has checked the digits
            limit = self._app.max_body_bytes
            if length > limit:
                raise _Refusal(413, f"body of {length} bytes exceeds the limit of {limit} bytes")
        if "expect" in headers and headers["expect"].lower() == "100-continue":
            self._expect_continue = True
        self._in_body = True
        self._body_read_at = self._now

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        if self._chunked:
            self._body_size += len(body)
            if self._body_size > self._app.max_body_bytes:
                raise _Refusal(413, f"body exceeds the limit of {self._app.max_body_bytes} bytes")

    def on_message_complete(self) -> None:
        parser = self._parser
        body = self._body
        path, _, query = self._url.decode("latin-1").partition("?")
        method = parser.get_method()
        request = Request(
            _METHODS.get(method) or method.decode("ascii"),
            path,
            query,
            self._version,
            self._headers,
            body[0] if len(body) == 1 else b"".join(body),
            self._now,
        )
        # an Upgrade (websocket, h2c) is not taken: answer as usual, then close
        keep_alive = parser.should_keep_alive() and not parser.should_upgrade()
        self._in_head = True
        self._in_body = self._expect_continue = False
        self._head_started = None
        self._head_size = 0
        self._url, self._headers, self._body = b"", {}, []
        if self._chunked:
            self._chunked, self._body_size = False, 0
        self._dispatch(request, keep_alive)

    # -- answering ---------------------------------------------------------

    def _dispatch(self, request: Request, keep_alive: bool) -> None:
        self._app.started()
        response = self._app.handle(request)
        keep_alive = keep_alive and not response.close
        if not keep_alive:
            self._closing = True  # read nothing more; close after this answer
        self._enqueue(response, request.arrived, keep_alive)

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request we will not read to the end, then close the connection."""
        if self._closing:
            return
        self._closing = True
        path = self._url.decode("latin-1").partition("?")[0]
        self._app.started()
        self._enqueue(self._app.reject(status, message, path), self._loop.time(), False)

    def _enqueue(self, response: Response, arrived: float, keep_alive: bool) -> None:
        pending = _Pending(arrived, response, keep_alive=keep_alive)
        if not self._pending:
            self._table.busy(self)
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
        now = self._loop.time()
        self._app.finished(response, now - pending.request_arrived)
        self._flush(now)

    def _flush(self, now: float) -> None:
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
        if not queue:
            self._idle_since = now
            self._table.idle(self)
        if self._paused and len(queue) <= _RESUME_AT and transport is not None:
            self._paused = False
            if not self._write_blocked:
                transport.resume_reading()
            if self._unread:
                data, self._unread = self._unread, b""
                self._feed(data)
