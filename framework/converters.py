"""Converters for command-line values: they validate at the boundary, so argparse can say
which flag was wrong and why (``must be 1..65535, got 0``) and exit 2 before anything runs.

Shared by ``swarm``'s own parser, its store commands and ``swarm mocks``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from framework.durations import parse_duration

__all__ = ["duration", "fraction", "integer", "milliseconds", "non_negative", "port", "positive"]


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A converter to an ``int`` in ``[minimum, maximum]`` (no upper bound when ``None``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f"..{maximum}" if maximum is not None else " or more"
            raise argparse.ArgumentTypeError(f"must be {minimum}{upper}, got {value}")
        return value

    return parse


non_negative = integer(0)
positive = integer(1)
port = integer(1, 65535)


def fraction(text: str) -> float:
    """``5%`` or ``0.05`` → 0.05."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction or percentage, got {text!r}"
        ) from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"out of range: {text!r}")
    return value


def milliseconds(text: str) -> float:
    """``1``, ``0.5`` or ``2ms`` → milliseconds (>= 0, finite)."""
    number = text.strip().removesuffix("ms").strip()
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected milliseconds such as 1 or 2.5ms, got {text!r}"
        ) from None
    if not 0 <= value < 3_600_000:
        raise argparse.ArgumentTypeError(f"must be 0 ms or more (under an hour), got {text!r}")
    return value


def duration(text: str) -> float:
    """``90``, ``2m``, ``1h30m`` → seconds."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
