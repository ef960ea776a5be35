"""The HTTP protocol fed byte literals in-process: framing, limits, timeouts and the bound.

No sockets and no sleeps: a recording transport stands in for the socket, and the
timeouts are checked with times passed in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mock_detectors.connections import ConnectionLimits, ConnectionTable
from mock_detectors.protocol import MAX_HEAD_BYTES, HttpProtocol, Request, Response


class Transport(asyncio.Transport):
    """Records what the server writes and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


class App:
    """Echoes each request's body; records requests and refusals."""

    max_body_bytes = 100

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.refusals: list[tuple[int, str]] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(200, request.body, "text/plain")

    def reject(self, status: int, message: str, path: str) -> Response:
        self.refusals.append((status, message))
        return Response(status, message.encode(), "text/plain")

    def started(self) -> None:
        pass

    def finished(self, response: Response, elapsed_s: float) -> None:
        pass

    def abandoned(self, response: Response, elapsed_s: float) -> None:
        pass


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def connect(
    loop: asyncio.AbstractEventLoop, table: ConnectionTable | None = None
) -> tuple[HttpProtocol, Transport, App]:
    app = App()
    if table is None:
        table = ConnectionTable(ConnectionLimits(100, 1.0, 5.0), loop)
    protocol = HttpProtocol(app, loop, table, lambda: 0.0)
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport, app


CHUNKED = (
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n"
)


@pytest.mark.parametrize("cut", range(1, len(CHUNKED)))
def test_chunked_body_split_anywhere_is_read_whole_once(
    loop: asyncio.AbstractEventLoop, cut: int
) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(CHUNKED[:cut])
    protocol.data_received(CHUNKED[cut:])
    assert [request.body for request in app.requests] == [b"Wikipedia"]
    assert transport.written.startswith(b"HTTP/1.1 200 OK") and not transport.closed


def test_chunked_body_over_the_limit_is_413_before_the_rest_arrives(
    loop: asyncio.AbstractEventLoop,
) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" + b"a" * 101
    )
    assert app.refusals[0][0] == 413 and transport.closed and not app.requests


@pytest.mark.parametrize("chunk", [b"zz\r\n", b"-1\r\n", b"2\r\nabcd\r\n"])
def test_malformed_chunks_are_400(loop: asyncio.AbstractEventLoop, chunk: bytes) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk)
    assert app.refusals[0][0] == 400 and "malformed request" in app.refusals[0][1]
    assert transport.closed


def test_content_length_over_the_limit_is_413_without_reading_the_body(
    loop: asyncio.AbstractEventLoop,
) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n")
    assert app.refusals == [(413, "body of 101 bytes exceeds the limit of 100 bytes")]
    assert transport.closed


def test_expect_100_continue_invites_the_body_once(loop: asyncio.AbstractEventLoop) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    assert transport.written == b"HTTP/1.1 100 Continue\r\n\r\n"
    protocol.data_received(b"o")
    protocol.data_received(b"k")
    assert app.requests[0].body == b"ok" and transport.written.count(b"100 Continue") == 1


@pytest.mark.parametrize("pieces", [1, 7])
def test_head_over_64_kib_is_431_whether_it_arrives_whole_or_in_pieces(
    loop: asyncio.AbstractEventLoop, pieces: int
) -> None:
    head = b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
    protocol, transport, app = connect(loop)
    step = len(head) // pieces + 1
    for start in range(0, len(head), step):
        protocol.data_received(head[start : start + step])
    assert app.refusals[0][0] == 431 and not app.requests and transport.closed


def test_head_just_under_64_kib_is_answered(loop: asyncio.AbstractEventLoop) -> None:
    line = b"GET /health HTTP/1.1\r\n"
    filler = MAX_HEAD_BYTES - len(line) - len(b"X-Big: \r\n\r\n") - 16
    protocol, _transport, app = connect(loop)
    protocol.data_received(line + b"X-Big: " + b"a" * filler + b"\r\n\r\n")
    assert len(app.requests) == 1 and not app.refusals


def test_many_headers_adding_up_past_64_kib_are_431(loop: asyncio.AbstractEventLoop) -> None:
    headers = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    protocol, _, app = connect(loop)
    protocol.data_received(b"GET / HTTP/1.1\r\n" + headers + b"\r\n")
    assert app.refusals[0][0] == 431


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
        (b"GET /\x00 HTTP/1.1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET /\r\n\r\n", 505),
    ],
)
def test_bad_requests_get_their_status_and_close(
    loop: asyncio.AbstractEventLoop, data: bytes, status: int
) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(data)
    assert [code for code, _ in app.refusals] == [status] and transport.closed


def test_pipelined_requests_are_answered_in_order_and_close_ends_reading(
    loop: asyncio.AbstractEventLoop,
) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nA"
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nConnection: close\r\n\r\nB"
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nC"
    )
    assert [request.body for request in app.requests] == [b"A", b"B"]
    assert transport.written.count(b"HTTP/1.1 200") == 2 and transport.closed


def test_upgrade_is_answered_as_a_plain_request_then_closed(
    loop: asyncio.AbstractEventLoop,
) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    assert len(app.requests) == 1 and b"Connection: close" in transport.written
    assert transport.closed


def test_http_1_0_closes_unless_keep_alive_is_asked(loop: asyncio.AbstractEventLoop) -> None:
    protocol, transport, _ = connect(loop)
    protocol.data_received(b"GET / HTTP/1.0\r\n\r\n")
    assert transport.closed
    protocol, transport, _ = connect(loop)
    protocol.data_received(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert not transport.closed


def test_late_headers_get_408_after_the_header_timeout(loop: asyncio.AbstractEventLoop) -> None:
    protocol, transport, app = connect(loop)  # header timeout 1 s, idle timeout 5 s
    protocol.data_received(b"GET /hea")
    started = loop.time()
    protocol.check_timeouts(started + 0.9)
    assert not transport.closed
    protocol.check_timeouts(started + 1.1)
    assert app.refusals[0][0] == 408 and transport.closed
    assert transport.written.startswith(b"HTTP/1.1 408 ")


def test_idle_connection_is_closed_after_the_idle_timeout(loop: asyncio.AbstractEventLoop) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(b"GET / HTTP/1.1\r\n\r\n")
    answered = loop.time()
    protocol.check_timeouts(answered + 4.9)
    assert not transport.closed
    protocol.check_timeouts(answered + 5.1)
    assert transport.closed and not app.refusals  # closed quietly: nothing was asked


def test_stalled_body_gets_408_after_the_idle_timeout(loop: asyncio.AbstractEventLoop) -> None:
    protocol, transport, app = connect(loop)
    protocol.data_received(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    protocol.check_timeouts(loop.time() + 2.0)  # past the header timeout: headers are done
    assert not transport.closed
    protocol.check_timeouts(loop.time() + 5.1)
    assert app.refusals[0][0] == 408 and "body stalled" in app.refusals[0][1]


def test_beyond_the_bound_the_oldest_idle_connection_is_closed(
    loop: asyncio.AbstractEventLoop,
) -> None:
    table = ConnectionTable(ConnectionLimits(2, 1.0, 5.0), loop)
    first, first_transport, _ = connect(loop, table)
    _second, second_transport, _ = connect(loop, table)
    first.data_received(b"GET /hea")  # a trickling client is idle too
    third, _third_transport, third_app = connect(loop, table)
    assert first_transport.closed and not second_transport.closed
    third.data_received(b"GET /health HTTP/1.1\r\n\r\n")
    assert len(third_app.requests) == 1 and len(table) == 2 and table.evicted == 1


def test_when_every_connection_is_busy_a_newcomer_gets_503(
    loop: asyncio.AbstractEventLoop,
) -> None:
    table = ConnectionTable(ConnectionLimits(1, 1.0, 5.0), loop)
    busy, busy_transport, busy_app = connect(loop, table)
    busy_app.handle = lambda request: Response(200, delay_s=30.0)  # type: ignore[method-assign]
    busy.data_received(b"GET / HTTP/1.1\r\n\r\n")
    _, transport, app = connect(loop, table)
    assert app.refusals[0][0] == 503 and transport.closed and not busy_transport.closed
    assert table.refused == 1
    busy.connection_lost(None)  # cancels the pending answer's timer


def test_a_client_that_does_not_read_its_answers_is_not_read_either(
    loop: asyncio.AbstractEventLoop,
) -> None:
    protocol, transport, app = connect(loop)
    protocol.pause_writing()  # the transport's buffer passed its high-water mark
    assert transport.paused
    protocol.resume_writing()
    assert not transport.paused
    protocol.data_received(b"GET / HTTP/1.1\r\n\r\n")
    assert len(app.requests) == 1
