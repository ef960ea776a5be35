"""Follow a timeline file as its writer appends it: each closed second, once, in order.

The master appends ``timeline.jsonl`` and flushes it every second; a process that cannot
see the master's memory (``swarm run``, which shows the progress) reads the same merged
seconds from the file. ``TimelineTail.read`` reads only what was added since the last call
and only whole lines (a line being written is left for the next call), parses each line
as ``framework.timeline.reader`` does and checks it by the same rules
(``framework.timeline.validation``): a damaged line is skipped and counted, never fatal.

A second is complete when its ``sec`` line comes (the writer puts a second's ``req`` and
``arr`` lines first, then its ``sec`` line, whose ``active`` it carries). ``late`` lines are
corrections of seconds already handed out: they are counted, not added, exactly as the
master's own feed never sees them. Arrivals are different: an arrival belongs to the second
it was *due* in, so one that started after that second was written comes as a late ``arr``
line, and the master's feed takes it (``LiveFeed.add_late_arrivals``); so does the tail's
reader, from ``late_arrivals()`` after each ``read``. Custom metrics (``met`` lines,
version 4) go into their second's ``metrics``; a late one is counted like a ``late`` line.

    >>> import pathlib, tempfile
    >>> from framework.timeline.records import RequestSecond, Second
    >>> from framework.timeline.writer import TimelineWriter
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "timeline.jsonl"
    >>> tail = TimelineTail(path)
    >>> tail.read()  # no file yet
    []
    >>> writer = TimelineWriter(path, created_s=100.0)
    >>> r = RequestSecond.from_latencies(100, "GET", "/x", [1.0, 2.0])
    >>> writer.write_second(Second(t=100, users=2, workers=1, requests=(r,)))
    >>> writer.flush()
    >>> [(s.t, s.users, s.requests[0].count) for s in tail.read()]
    [(100, 2, 2)]
    >>> writer.close()
    >>> tail.read(), tail.ended
    ([], True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from framework.limits import excerpt
from framework.timeline.metric_records import MetricSecond
from framework.timeline.reader import parse_record
from framework.timeline.records import (
    FORMAT,
    READABLE_VERSIONS,
    ArrivalSecond,
    RequestSecond,
    Second,
)
from framework.timeline.validation import (
    TimeBounds,
    arrival_line_problem,
    gauges_problem,
    metric_line_problem,
    request_line_problem,
)

__all__ = ["MAX_READ_BYTES", "TimelineTail"]

MAX_READ_BYTES = 8 * 1024 * 1024
"""At most this much is read per call, so one call stays short even on a long file; the
rest comes with the next calls."""


class TimelineTail:
    """Reads the seconds appended to one timeline file since the previous ``read``.

    ``damaged`` counts the lines skipped as damaged, ``late`` the correction lines left
    out; ``ended`` turns true at the ``end`` line; ``problem`` says why the file is not
    followed at all (not a swarm timeline, an unknown version), and is then set for good.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.damaged = 0
        self.late = 0
        self.ended = False
        self.problem: str | None = None
        self.last_t: int | None = None
        self._offset = 0
        self._partial = b""
        self._line = 0
        self._bounds: TimeBounds | None = None
        self._pending: dict[int, dict[str, RequestSecond]] = {}
        self._arrivals: dict[int, dict[str, ArrivalSecond]] = {}
        self._late_arrivals: list[ArrivalSecond] = []
        self._metrics: dict[int, dict[str, MetricSecond]] = {}

    def __repr__(self) -> str:
        return f"TimelineTail({str(self.path)!r}, line={self._line}, last_t={self.last_t})"

    def read(self) -> list[Second]:
        """The seconds completed since the last call, in time order (none if the file is
        not there yet or cannot be read now: it is tried again next time)."""
        if self.problem is not None:
            return []
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read(MAX_READ_BYTES)
        except OSError:
            return []
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # b"" after a whole line, else the line being written
        seconds: list[Second] = []
        for line in lines:
            self._line += 1
            if self.problem is None:
                seconds.extend(self._take(line))
        return seconds

    def late_arrivals(self) -> list[ArrivalSecond]:
        """The arrivals read so far that were due in seconds already handed out (late
        ``arr`` lines), once each: give them to the feed after ``read``'s seconds."""
        found, self._late_arrivals = self._late_arrivals, []
        return found

    def _take(self, line: bytes) -> list[Second]:
        try:
            obj = parse_record(line)
        except ValueError as exc:
            if self._line == 1:
                self.problem = f"{self.path}:1: corrupt line: {exc}"
            else:
                self.damaged += 1
            return []
        if self._line == 1:
            self._header(obj)
            return []
        assert self._bounds is not None
        kind = obj.get("type")
        if kind == "req":
            if request_line_problem(obj, self._bounds) is not None:
                self.damaged += 1
                return []
            record = RequestSecond.from_record(obj)
            if self.last_t is not None and record.t <= self.last_t:
                self.damaged += 1  # its second was handed out already
                return []
            cells = self._pending.setdefault(record.t, {})
            held = cells.get(record.key)
            cells[record.key] = held.combine(record) if held is not None else record
        elif kind == "sec":
            if gauges_problem(obj, self._bounds) is not None:
                self.damaged += 1
                return []
            return self._close(obj)
        elif kind == "arr":
            self._arrival(obj)
        elif kind == "met":
            self._metric(obj)
        elif kind == "late":
            self.late += 1
        elif kind == "end":
            self.ended = True
        # unknown types are skipped, as the reader does: version 1 allows additive types
        return []

    def _arrival(self, obj: dict[str, Any]) -> None:
        assert self._bounds is not None
        if arrival_line_problem(obj, self._bounds) is not None:
            self.damaged += 1
            return
        record = ArrivalSecond.from_record(obj)
        if obj.get("late") is True or (self.last_t is not None and record.t <= self.last_t):
            self._late_arrivals.append(record)  # its second was handed out already
            return
        cells = self._arrivals.setdefault(record.t, {})
        held = cells.get(record.group)
        cells[record.group] = held.combine(record) if held is not None else record

    def _metric(self, obj: dict[str, Any]) -> None:
        assert self._bounds is not None
        if metric_line_problem(obj, self._bounds) is not None:
            self.damaged += 1
            return
        try:
            record = MetricSecond.from_record(obj)
        except (KeyError, ValueError, TypeError):
            self.damaged += 1
            return
        if obj.get("late") is True or (self.last_t is not None and record.t <= self.last_t):
            self.late += 1  # its second was handed out already, as a ``late`` line's
            return
        cells = self._metrics.setdefault(record.t, {})
        held = cells.get(record.key)
        cells[record.key] = held.combine(record) if held is not None else record

    def _header(self, header: dict[str, Any]) -> None:
        if header.get("format") != FORMAT:
            found = excerpt(repr(header.get("format")))
            self.problem = f"{self.path}:1: not a swarm timeline (format {found})"
        elif header.get("version") not in READABLE_VERSIONS:
            found = excerpt(repr(header.get("version")))
            self.problem = f"{self.path}:1: timeline format version {found} is not supported"
        else:
            self._bounds = TimeBounds.around(header.get("created_s"))

    def _close(self, gauges: dict[str, Any]) -> list[Second]:
        """The second this ``sec`` line closes, after any earlier one whose own ``sec``
        line was damaged (its requests still count; its gauges are unknown)."""
        t = gauges["t"]
        if self.last_t is not None and t <= self.last_t:
            self.damaged += 1  # a second handed out already: the feed takes each once
            self._pending.pop(t, None)
            return []
        closed = []
        held = {*self._pending, *self._arrivals, *self._metrics}
        for earlier in sorted(k for k in held if k < t):
            cells, arrivals = self._pending.pop(earlier, {}), self._arrivals.pop(earlier, {})
            closed.append(_second(earlier, cells, arrivals, None, self._metrics.pop(earlier, {})))
        cells, arrivals = self._pending.pop(t, {}), self._arrivals.pop(t, {})
        closed.append(_second(t, cells, arrivals, gauges, self._metrics.pop(t, {})))
        self.last_t = t
        return closed


def _second(
    t: int,
    cells: dict[str, RequestSecond],
    arrivals: dict[str, ArrivalSecond],
    gauges: dict[str, Any] | None,
    metrics: dict[str, MetricSecond],
) -> Second:
    gauges = gauges or {}
    return Second(
        t=t,
        users=gauges.get("users"),
        workers=gauges.get("workers"),
        cpu_percent=gauges.get("cpu"),
        requests=tuple(cells[key] for key in sorted(cells)),
        paused=gauges.get("paused") is True,
        arrivals=tuple(arrivals[group] for group in sorted(arrivals)),
        active=dict(gauges.get("active") or {}),
        metrics=tuple(metrics[key] for key in sorted(metrics)),
    )
