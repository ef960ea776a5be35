"""Every kind of bad request gets the documented status and a message."""

from __future__ import annotations

import socket

import pytest

from tests.mock_detectors.conftest import MockService, request

pytestmark = pytest.mark.integration


def raw(url: str, data: bytes, read_until_close: bool = True) -> bytes:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def test_invalid_json_is_400_with_the_parser_message(mocks: MockService) -> None:
    reply = request(mocks.urls["fast"], "POST", "/detect", "{not json")
    assert reply.status == 400
    assert reply.json()["message"].startswith("invalid JSON: Expecting property name")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("", "empty body"),
        ("[1, 2]", "must be a JSON object"),
        ('{"metadata": {}}', "content is required"),
        ('{"content": "x", "metadata": 3}', "metadata must be a JSON object"),
    ],
)
def test_wrong_shape_is_400_saying_what_is_expected(
    mocks: MockService, body: str, fragment: str
) -> None:
    reply = request(mocks.urls["fast"], "POST", "/detect", body)
    assert reply.status == 400 and fragment in reply.json()["message"]


def test_body_over_the_limit_is_413_before_reading_it(mocks: MockService) -> None:
    big = '{"content": "' + "a" * 3000 + '"}'
    reply = request(mocks.urls["fast"], "POST", "/detect", big)
    assert reply.status == 413
    assert "exceeds the limit of 2048 bytes" in reply.json()["message"]


def test_expect_100_continue_over_the_limit_gets_413_without_continue(mocks: MockService) -> None:
    head = (
        b"POST /detect HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"
    )
    answer = raw(mocks.urls["fast"], head)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_expect_100_continue_within_limit_is_invited(mocks: MockService) -> None:
    body = b'{"content": "x"}'
    head = (
        b"POST /detect HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n\r\n" % len(body)
    )
    host, port = mocks.urls["fast"].removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")


def test_wrong_method_is_405_with_allow(mocks: MockService) -> None:
    reply = request(mocks.urls["fast"], "GET", "/detect")
    assert reply.status == 405 and reply.headers["allow"] == "POST"
    assert reply.json()["error"] == "method_not_allowed"
    assert request(mocks.urls["fast"], "POST", "/health").status == 405


def test_unknown_route_is_404_json_listing_routes(mocks: MockService) -> None:
    reply = request(mocks.urls["fast"], "GET", "/detector")
    assert reply.status == 404 and reply.headers["content-type"] == "application/json"
    assert "/detect" in reply.json()["routes"]


def test_malformed_request_line_is_400_and_closes(mocks: MockService) -> None:
    answer = raw(mocks.urls["fast"], b"GARBAGE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer


def test_chunked_body_is_read(mocks: MockService) -> None:
    payload = b'{"content": "chunked"}'
    data = (
        b"POST /detect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n"
        + b"%x\r\n%s\r\n" % (5, payload[:5])
        + b"%x\r\n%s\r\n" % (len(payload) - 5, payload[5:])
        + b"0\r\n\r\n"
    )
    assert raw(mocks.urls["fast"], data).startswith(b"HTTP/1.1 200 OK")


def test_pipelined_answers_keep_request_order(mocks: MockService) -> None:
    # Latencies of 20-60 ms are drawn per request, so a later answer is often ready
    # first; the server must still send them in request order.
    requests = b"".join(
        b"POST /detect HTTP/1.1\r\nHost: x\r\nX-Request-Id: r%d\r\nContent-Length: 16\r\n"
        b"%s\r\n\r\n" % (i, b"Connection: close" if i == 2 else b"X-Pad: 1") + b'{"content": "x"}'
        for i in range(3)
    )
    answer = raw(mocks.urls["observed"], requests)
    order = [answer.find(b'"request_id":"r%d"' % i) for i in range(3)]
    assert all(position > 0 for position in order) and order == sorted(order)


def test_oversized_headers_are_431(mocks: MockService) -> None:
    head = b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 70_000
    assert raw(mocks.urls["fast"], head).startswith(b"HTTP/1.1 431 ")
