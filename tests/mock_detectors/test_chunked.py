"""Chunked request bodies are decoded from byte literals, partial data waits for more."""

from __future__ import annotations

import pytest

from mock_detectors.chunked import ChunkedBodyError, take_chunked


def test_complete_body_is_joined_and_consumed_up_to_the_end() -> None:
    data = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nGET /next"
    assert take_chunked(data, limit=100) == (b"Wikipedia", len(data) - len(b"GET /next"))


@pytest.mark.parametrize("cut", [1, 3, 8, 12, 13])
def test_partial_body_waits_for_more(cut: int) -> None:
    assert take_chunked(b"4\r\nWiki\r\n0\r\n\r\n"[:cut], limit=100) is None


def test_over_the_limit_is_413_before_the_rest_arrives() -> None:
    with pytest.raises(ChunkedBodyError) as caught:
        take_chunked(b"ff\r\n", limit=100)
    assert caught.value.status == 413


@pytest.mark.parametrize("data", [b"zz\r\n", b"-1\r\n", b"2\r\nabcd\r\n"])
def test_malformed_chunks_are_400(data: bytes) -> None:
    with pytest.raises(ChunkedBodyError) as caught:
        take_chunked(data, limit=100)
    assert caught.value.status == 400
