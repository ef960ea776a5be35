"""Decoding of ``Transfer-Encoding: chunked`` request bodies, as a pure function.

Kept apart from the server so it can be tested on byte literals: the server calls
``take_chunked`` each time data arrives until the whole body is there.

    >>> take_chunked(b"5\\r\\nhello\\r\\n0\\r\\n\\r\\nNEXT", limit=100)
    (b'hello', 15)
    >>> take_chunked(b"5\\r\\nhel", limit=100) is None
    True
"""

from __future__ import annotations

__all__ = ["ChunkedBodyError", "take_chunked"]


class ChunkedBodyError(ValueError):
    """The chunked body is malformed (``status`` 400) or over the limit (413).

    Not a ``SwarmError``: it is about one request a mock detector received, and the
    protocol answers it with that HTTP ``status``; the service keeps running.
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def take_chunked(buffer: bytes | bytearray, limit: int) -> tuple[bytes, int] | None:
    """Return ``(body, bytes consumed)`` once the body and its trailers are complete.

    ``None`` means more data is needed. Raises ``ChunkedBodyError`` for a bad chunk
    size or once the decoded size passes ``limit`` bytes, without waiting for the rest.
    """
    position = 0
    parts: list[bytes] = []
    total = 0
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ChunkedBodyError(400, f"invalid chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise ChunkedBodyError(400, f"invalid chunk size {size_text[:20]!r}")
        total += size
        if total > limit:
            raise ChunkedBodyError(413, f"body exceeds the limit of {limit} bytes")
        position = line_end + 2
        if size == 0:
            while True:  # optional trailer lines, then an empty line
                line_end = buffer.find(b"\r\n", position)
                if line_end < 0:
                    return None
                empty = line_end == position
                position = line_end + 2
                if empty:
                    return b"".join(parts), position
        if len(buffer) < position + size + 2:
            return None
        if buffer[position + size : position + size + 2] != b"\r\n":
            raise ChunkedBodyError(400, "chunk data is not followed by CRLF")
        parts.append(bytes(buffer[position : position + size]))
        position += size + 2
