"""CSV data files that feed request templates: rows in order, at random, or one per user.

A scenario names each file under ``data:``; templates read a row as ``data.<name>.<column>``.
``sequential`` cycles through the rows, ``random`` draws one per request, and ``unique``
gives every simulated user its own row for its whole life (like Gatling's ``queue``), so
each user can log in as a different account. In a distributed run each worker process
reads its own copy of the file.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from framework.limits import DATA_BYTES, InputRefused, read_text

__all__ = ["DataExhaustedError", "DataSource", "read_rows"]

Order = Literal["sequential", "random", "unique"]


class DataExhaustedError(RuntimeError):
    """Every row of a ``unique`` data file is already taken by a user.

    Not a ``SwarmError``: it happens mid-run, when a user starts (``claim_row``) or renders
    a template that reads the file without a row of its own; each request of that user
    that reads the file then fails with kind ``template`` (the run goes on, the failures
    are counted). It never reaches the CLI, so it has no exit code.
    """


def read_rows(path: Path) -> list[dict[str, str]]:
    """All rows of a CSV file with a header line; raise ``ValueError`` when it has none,
    is not CSV, or is not a regular file within ``SWARM_MAX_DATA_BYTES`` (``InputRefused``,
    read by ``framework.limits`` so that ``/dev/zero`` or a FIFO is refused, not read)."""
    try:
        text = read_text(path, DATA_BYTES)
    except InputRefused as exc:
        raise InputRefused(f"{path}: {exc}", limit=exc.limit) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames:
            raise ValueError(f"{path}: empty CSV file (a header line is required)")
        rows = [dict(row) for row in reader]
    except csv.Error as exc:
        raise ValueError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    for number, row in enumerate(rows, start=2):
        if any("\x00" in value for value in row.values() if isinstance(value, str)):
            raise ValueError(
                f"{path}: row {number} holds a NUL byte, so it looks binary; expected CSV text"
            )
    return rows


class DataSource:
    """Hands out rows of one CSV file according to its order."""

    def __init__(
        self, name: str, rows: list[dict[str, str]], order: Order, seed: int | None = None
    ):
        self.name = name
        self.rows = rows
        self.order = order
        self.columns = tuple(rows[0].keys()) if rows else ()
        self._random = random.Random(seed)
        self._cycle: Iterator[dict[str, str]] = itertools.cycle(rows)
        self._next_unique = 0

    def next_row(self) -> dict[str, str]:
        """The row for one request (``sequential`` and ``random``)."""
        if self.order == "random":
            return self._random.choice(self.rows)
        return next(self._cycle)

    def exhausted_message(self) -> str:
        """What a user without a row of this ``unique`` file is told."""
        return (
            f"data file {self.name!r} has {len(self.rows)} rows, all taken by other users; "
            "add rows or use fewer users"
        )

    def claim_row(self) -> dict[str, str]:
        """A row no other user of this process holds (``unique``)."""
        if self._next_unique >= len(self.rows):
            raise DataExhaustedError(self.exhausted_message())
        row = self.rows[self._next_unique]
        self._next_unique += 1
        return row
