"""Durations as people write them in scenarios: ``90``, ``90s``, ``2m``, ``1h30m``, ``250ms``.

Kept separate from the scenario model so shapes, the CLI and budgets parse time the same way.
"""

from __future__ import annotations

import math
import re

__all__ = ["DURATION_FORMATS", "MAX_DURATION_S", "parse_duration"]

DURATION_FORMATS = "a number of seconds (90), or units h/m/s/ms combined (90s, 2m, 1h30m, 250ms)"

MAX_DURATION_S = 30 * 24 * 3600.0
"""Longest duration anywhere (30 days): longer than any soak test, so more is a typo."""

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds; raise ``ValueError`` naming the accepted formats.

    >>> parse_duration("1h30m")
    5400.0
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}; use {DURATION_FORMATS}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text.startswith("-"):
            raise ValueError(f"duration must not be negative, got {_shown(value)}")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"invalid duration {_shown(value)}; use {DURATION_FORMATS}")
            units = [u for _, u in parts]
            if len(set(units)) != len(units):
                raise ValueError(f"invalid duration {_shown(value)}: a unit appears twice")
            seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    else:
        raise ValueError(f"expected a duration, got {type(value).__name__}; use {DURATION_FORMATS}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {_shown(value)}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite, got {_shown(value)}; use {DURATION_FORMATS}")
    if seconds > MAX_DURATION_S:
        raise ValueError(
            f"duration must be at most 30 days ({MAX_DURATION_S:.0f} s), got {_shown(value)}"
        )
    return seconds


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
