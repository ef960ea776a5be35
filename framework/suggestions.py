"""Suggestions for a mistyped name: the known names closest to it, and the message saying so.

A mistyped run id, scenario, metric or request name should fail with the names the user
probably meant, not only "unknown". Run ids all share one shape (``<UTC time>-<scenario>``),
so plain ``difflib.get_close_matches`` would call any two alike; ``closest`` keeps only
the names nearly as close as the closest one, and falls back to names containing the text.
A mistyped key or flag gets the one ``nearest`` name. Every message words the hint with
``did_you_mean``, so no caller spells the phrase or its quoting again.

    >>> closest("chekout", ["checkout", "login", "search"])
    ('checkout',)
    >>> nearest("wieght", ["name", "weight", "host"]), did_you_mean(["a", "b"])
    ('weight', "did you mean 'a' or 'b'?")
    >>> unknown_text("scenario", "chekout", ["login", "checkout"])
    "unknown scenario 'chekout'; did you mean 'checkout'? (known: 'checkout', 'login')"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["closest", "did_you_mean", "nearest", "unknown_text"]


def closest(given: str, known: list[str]) -> tuple[str, ...]:
    """Up to three of ``known`` most like ``given``, or containing it.

    Run ids share their shape (``<UTC time>-<scenario>``), so any two look alike; only the
    ids nearly as close as the closest one are kept.
    """
    ratios = {k: difflib.SequenceMatcher(None, given, k).ratio() for k in known}
    best = max(ratios.values(), default=0.0)
    close = sorted((k for k, r in ratios.items() if r >= max(0.6, best - 0.1)), key=ratios.get)
    close = close[::-1][:3]
    containing = [k for k in known if given and given in k and k not in close]
    return tuple(close + containing[: 3 - len(close)])


def nearest(given: str, known: Sequence[str]) -> str | None:
    """The one name of ``known`` most like ``given``, if close enough to be a likely typo
    (``difflib``'s ratio >= 0.6); for keys and flags, where one guess is the useful one."""
    guess = difflib.get_close_matches(given, known, n=1, cutoff=0.6)
    return guess[0] if guess else None


def did_you_mean(names: Sequence[str], *, quote: bool = True) -> str:
    """``did you mean 'a' or 'b'?``; ``quote=False`` for names that read as they are (flags)."""
    shown = map(repr, names) if quote else names
    return f"did you mean {' or '.join(shown)}?"


def unknown_text(what: str, given: str, known: Iterable[str], where: Path | None = None) -> str:
    """``unknown <what> 'given' [in where]; did you mean …? (known: …)``, listing at most 12."""
    names = sorted(known)
    close = closest(given, names)
    text = f"unknown {what} {given!r}" + (f" in {where}" if where else "")
    if close:
        text += f"; {did_you_mean(close)}"
    if not names:
        return text + " (nothing indexed yet)"
    shown = ", ".join(map(repr, names[:12])) + (", ..." if len(names) > 12 else "")
    return text + f" (known: {shown})"
