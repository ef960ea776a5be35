"""Data-quality grades: pass, warn, fail, in that order from best to worst.

A scenario names the worst grade it still trusts (``validation.min_quality``), the
statistics grade every check, results.json and the store write the grade's word, and the
verdicts and Prometheus compare grades by rank. All of them use ``Grade`` and its order, so
the order is written once: the order of its members.

    >>> Grade.WARN.rank, Grade("fail").rank, worst([Grade.WARN, Grade.PASS])
    (1, 2, <Grade.WARN: 'warn'>)
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

__all__ = ["Grade", "GradeName", "grade_rank", "worst"]


class Grade(StrEnum):
    """How much a figure can be trusted; ordered pass < warn < fail."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """0 for pass, 1 for warn, 2 for fail: compare grades by this."""
        return list(Grade).index(self)


GradeName = Literal["pass", "warn", "fail"]
"""A ``Grade`` as written in YAML and JSON (the pydantic schema lists these words)."""


def grade_rank(grade: str) -> int:
    """The rank of a grade given as its word (``"warn"`` → 1), as read from results.json."""
    return Grade(grade).rank


def worst(grades: Iterable[Grade]) -> Grade:
    """The worst of ``grades``; ``PASS`` when there are none."""
    return max(grades, key=lambda g: g.rank, default=Grade.PASS)
