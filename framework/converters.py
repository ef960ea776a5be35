"""Converters for command-line values: they validate at the boundary, so argparse can say
which flag was wrong and why (``must be 1..65535, got 0``) and exit 2 before anything runs.

Shared by ``swarm``'s own parser, its store commands and ``swarm mocks``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from framework.durations import parse_duration

__all__ = [
    "MAX_PROCESSES",
    "MAX_ROWS",
    "confidence",
    "duration",
    "fraction",
    "integer",
    "milliseconds",
    "non_negative",
    "port",
    "port_offset",
    "positive",
    "processes",
    "rows",
    "time_scale",
    "workers",
]

MAX_PROCESSES = 256
"""Most worker (or mock) processes one command starts on this host: more would exhaust
the machine before the first request, so it is a typo."""
MAX_ROWS = 1_000_000
"""Most rows a listing prints."""


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A converter to an ``int`` in ``[minimum, maximum]`` (no upper bound when ``None``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {_shown(text)}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f"..{maximum}" if maximum is not None else " or more"
            raise argparse.ArgumentTypeError(f"must be {minimum}{upper}, got {value}")
        return value

    return parse


non_negative = integer(0)
positive = integer(1)
port = integer(1, 65535)
port_offset = integer(-65535, 65535)
processes = integer(1, MAX_PROCESSES)
workers = integer(0, MAX_PROCESSES)
rows = integer(1, MAX_ROWS)


def _shown(text: str) -> str:
    """``text`` quoted, cut short: a flag's value is echoed, never a whole file's worth."""
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def _fraction_value(text: str) -> float:
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction or percentage (0.05 or 5%), got {_shown(text)}"
        ) from None


def fraction(text: str) -> float:
    """``5%`` or ``0.05`` → 0.05; from 0 up to (not including) 10, i.e. 1000%."""
    value = _fraction_value(text)
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(
            f"must be from 0 to less than 10 (0% to 1000%), got {_shown(text)}"
        )
    return value


def confidence(text: str) -> float:
    """A confidence level, ``0.95`` or ``95%``: strictly between 0 and 1.

    Checked here so that ``swarm run --confidence 2`` stops before any load is sent,
    instead of after the whole run when the first interval is computed.
    """
    value = _fraction_value(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and 1, both excluded (0.95 or 95%), got {_shown(text)}"
        )
    return value


def milliseconds(text: str) -> float:
    """``1``, ``0.5`` or ``2ms`` → milliseconds (>= 0, finite)."""
    number = text.strip().removesuffix("ms").strip()
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected milliseconds such as 1 or 2.5ms, got {_shown(text)}"
        ) from None
    if not 0 <= value < 3_600_000:
        raise argparse.ArgumentTypeError(
            f"must be 0 ms or more (under an hour), got {_shown(text)}"
        )
    return value


def duration(text: str) -> float:
    """``90``, ``2m``, ``1h30m`` → seconds."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def time_scale(text: str) -> float:
    """``--time-scale``: a finite number > 0 (``0.1`` runs a 1 h plan in 6 min)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"expected a number > 0 that every duration of the plan is multiplied by "
            f"(0.1: ten times shorter, 2: twice as long), got {_shown(text)}"
        )
    return value
