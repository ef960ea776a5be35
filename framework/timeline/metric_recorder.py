"""Recording custom metrics on a load generator: ``MetricRecorder``, per second and series.

A series is one metric name with one dimension set. The recording API
(``framework.timeline.metrics_api``: ``counter``, ``gauge``, ``histogram``, ``timer``,
``meter``) registers a series once, when its handle is made, and then records into it by
its number: a histogram value is checked and kept, and ``drain`` counts the values in bulk
as ``SecondRecorder`` counts a request's success (the same HdrHistogram counts index, the
histogram built once per cell), so a value costs less than a request's recording. The
Locust glue drains the process's ``default_recorder()`` with every worker report (or local
drain) into ``met`` records (``MetricRecord``) that the master merges like request
records. Nothing here reads a clock: times are passed in.

    >>> rec = MetricRecorder()
    >>> score = rec.register("detector.score", "histogram", "1", {"model": "fast"})
    >>> rec.record_value(score, 100.2, 0.93)
    >>> rec.record_value(score, 100.7, 0.5)
    >>> [(r["t"], r["name"], r["dims"], r["count"], r["max"]) for r in rec.drain(101.0)]
    [(100, 'detector.score', {'model': 'fast'}, 2, 0.93)]

Memory is bounded whatever a load test does: at most ``MAX_METRICS`` names and
``MAX_DIMENSION_SETS`` dimension sets per name, each holding one cell per second until
the next drain; past a bound, registering is a ``MetricError`` naming the metric.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from framework.errors import MetricError
from framework.timeline.metric_records import (
    HISTOGRAM_KINDS,
    METRIC_KINDS,
    METRIC_NAME,
    METRIC_SCALE,
    Dims,
    MetricRecord,
)

# The request recorder's bulk counting (the HdrHistogram counts index) and encoder: one
# layout for both, so a ``ms`` timer's histogram is laid out exactly like a request latency's.
from framework.timeline.recorder import _counted, _encoded, _wire_int
from framework.timeline.records import HISTOGRAM_HIGHEST_US

__all__ = [
    "MAX_DIMENSION_SETS",
    "MAX_DIMENSION_VALUE_CHARS",
    "MAX_METRICS",
    "METRIC_UNIT",
    "MetricRecorder",
    "Series",
    "default_recorder",
    "metric_dims",
]

MAX_DIMENSION_SETS = 100
"""Distinct dimension sets one metric may have in one process: a dimension fed a request
id or a timestamp would otherwise grow memory, the timeline and every sink without bound."""
MAX_METRICS = 1000
"""Distinct metric names one process may record (a name built from data is refused)."""
MAX_DIMENSION_VALUE_CHARS = 100
"""A dimension value is at most this long."""
METRIC_UNIT = re.compile(r"[A-Za-z0-9_%/.\-]{1,32}")
"""A unit: ``ms``, ``s``, ``us``, ``bytes``, ``items``, ``jobs``, ``1``, ``req/s``, ``%``."""
RESERVED_DIMENSIONS = frozenset({"name", "kind", "unit"})
"""Dimension names that would clash with a metric's own fields wherever it is exported."""
_BAD_VALUE_CHARS = re.compile(r"[{}=,\x00-\x1f\x7f]")

# A cell is a list, as in ``SecondRecorder``, because recording indexes it once per value:
# [count, sum, sumsq, min, max, buckets {hdr counts index: n}, missing, last, last_at]
_Cell = list
_INF = math.inf
_floor = math.floor
_HIGHEST = HISTOGRAM_HIGHEST_US / METRIC_SCALE
"""The largest value a histogram holds apart; above it, ``record_value`` counts it there."""


@dataclass(frozen=True)
class Series:
    """A registered metric and dimension set: what its records are labelled with."""

    name: str
    kind: str
    unit: str
    dims: Dims


class MetricRecorder:
    """Per-second cells of every custom metric series recorded in this process.

    ``register`` validates a series once and returns its number; ``record_value``
    (histograms, timers), ``add`` (counters, meters), ``set`` (gauges) and
    ``record_missing`` record into it at a unix time passed in; ``drain`` hands the cells
    over as ``MetricRecord``s. ``clear`` forgets recorded data (a new run) but keeps the
    registered series, so handles made earlier stay valid.
    """

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], _Cell] = {}
        self._series: list[Series] = []
        self._numbers: dict[tuple[str, Dims], int] = {}
        self._first_use: dict[str, tuple[str, str]] = {}  # name -> (kind, unit)
        self._dimension_sets: dict[str, int] = {}
        self._values: list[tuple[float, int, float]] = []
        """Histogram and timer values not yet counted: ``(t_s, series, value)``."""
        self._counted = 0

    def register(self, name: str, kind: str, unit: str, dims: Mapping[str, object]) -> int:
        """The number of series ``name`` with ``dims`` (registered on first use).

        Raises ``MetricError`` naming the metric when the name is not an identifier path,
        a dimension is not an identifier or its value not short text, the kind or unit
        differ from the metric's first use, or the metric has ``MAX_DIMENSION_SETS``
        dimension sets already.
        """
        if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
            raise MetricError(
                f"metric name {name!r} is not an identifier path (letters, digits and _, "
                "joined by dots, e.g. detector.queue.depth)",
                metric=str(name),
            )
        if kind not in METRIC_KINDS:
            raise MetricError(
                f"metric {name!r}: unknown kind {kind!r} (allowed: {', '.join(METRIC_KINDS)})",
                metric=name,
            )
        if not isinstance(unit, str) or not METRIC_UNIT.fullmatch(unit):
            raise MetricError(
                f"metric {name!r}: unit {unit!r} is not a unit (1 to 32 letters, digits or "
                "_ % / . -, e.g. ms, bytes, items, 1)",
                metric=name,
            )
        sorted_dims = metric_dims(name, dims)
        number = self._numbers.get((name, sorted_dims))
        if number is not None:
            held = self._series[number]
            if (held.kind, held.unit) != (kind, unit):
                raise _mismatch(name, held.kind, held.unit, kind, unit)
            return number
        first = self._first_use.get(name)
        if first is None:
            if len(self._first_use) >= MAX_METRICS:
                raise MetricError(
                    f"metric {name!r}: more than {MAX_METRICS} distinct metric names in one "
                    "process; build names from fixed text and put varying parts in dimensions",
                    metric=name,
                )
            self._first_use[name] = (kind, unit)
        elif first != (kind, unit):
            raise _mismatch(name, *first, kind, unit)
        if self._dimension_sets.get(name, 0) >= MAX_DIMENSION_SETS:
            raise MetricError(
                f"metric {name!r}: more than {MAX_DIMENSION_SETS} distinct dimension sets "
                f"(the new one is {dict(sorted_dims)}); a dimension's values must come from "
                "a small fixed set, never a request id, user id or time",
                metric=name,
            )
        self._dimension_sets[name] = self._dimension_sets.get(name, 0) + 1
        number = len(self._series)
        self._series.append(Series(name, kind, unit, sorted_dims))
        self._numbers[(name, sorted_dims)] = number
        return number

    def series(self, number: int) -> Series:
        """What series ``number`` is."""
        return self._series[number]

    def record_value(self, series: int, t_s: float, value: float) -> None:
        """Count one value of a histogram or timer at unix time ``t_s``: a number >= 0
        (``MetricError`` otherwise), held in thousandths of the unit in the histogram.

        The value is checked now and kept; ``drain`` counts the values it finds in bulk
        (``_fold``), which costs a recording a third of counting it here (issue #18: a
        custom value should cost no more than a request, whose successes are counted the
        same way)."""
        try:
            if not 0 <= value < _INF:
                raise self._bad_value(series, value, "a finite number >= 0")
        except TypeError:
            raise self._bad_value(series, value, "a finite number >= 0") from None
        self._values.append((t_s, series, value))

    @property
    def recorded(self) -> int:
        """Values, increments and gauge settings recorded since this recorder was made."""
        return self._counted + len(self._values)

    def _fold(self) -> None:
        """Count the waiting histogram and timer values into their cells, grouped by second
        and series, as ``record_value`` once counted them one by one: the sums in the order
        the values came, the bucket of ``round(value * 1000)`` (``_counted``)."""
        if not self._values:
            return
        batch = self._values[:]
        del self._values[: len(batch)]  # in place: a value a thread appends meanwhile stays
        groups: dict[tuple[int, int], list[float]] = {}
        for t_s, series, value in batch:
            key = (_floor(t_s), series)
            group = groups.get(key)
            if group is None:
                group = groups[key] = []
            group.append(value)
        for key, values in groups.items():
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = [0, 0, 0, _INF, -_INF, {}, 0, None, None]
            total, squares = cell[1], cell[2]
            for value in values:
                total += value
                squares += value * value
            cell[0] += len(values)
            cell[1], cell[2] = total, squares
            cell[3] = min(cell[3], min(values))
            cell[4] = max(cell[4], max(values))
            # ``_counted`` takes milliseconds to whole µs: the same thousandths, and the
            # same cap (a value past the histogram's range counts in its last bucket)
            capped = [value if value < _HIGHEST else _HIGHEST for value in values]
            buckets = cell[5]
            for index, n in _counted(capped)[3].items():
                buckets[index] = buckets.get(index, 0) + n
        self._counted += len(batch)

    def add(self, series: int, t_s: float, n: float = 1) -> None:
        """Add ``n`` (a number >= 0) to a counter or meter at unix time ``t_s``."""
        try:
            if not 0 <= n < _INF:
                raise self._bad_value(series, n, "a finite number >= 0")
        except TypeError:
            raise self._bad_value(series, n, "a finite number >= 0") from None
        key = (_floor(t_s), series)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [0, 0, 0, _INF, -_INF, None, 0, None, None]
        cell[0] += 1
        cell[1] += n
        self._counted += 1

    def set(self, series: int, t_s: float, value: float) -> None:
        """Set a gauge to ``value`` (any finite number) at unix time ``t_s``."""
        try:
            if not -_INF < value < _INF:
                raise self._bad_value(series, value, "a finite number")
        except TypeError:
            raise self._bad_value(series, value, "a finite number") from None
        key = (_floor(t_s), series)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [0, 0, 0, _INF, -_INF, None, 0, None, None]
        cell[0] += 1
        cell[1] += value
        if value < cell[3]:
            cell[3] = value
        if value > cell[4]:
            cell[4] = value
        if cell[8] is None or t_s >= cell[8]:
            cell[7], cell[8] = value, t_s
        self._counted += 1

    def record_missing(self, series: int, t_s: float) -> None:
        """Count one value that was looked for and not found (a JSON path that matched
        nothing): counted, never fatal."""
        key = (_floor(t_s), series)
        cell = self._cells.get(key)
        if cell is None:
            buckets = {} if self._series[series].kind in HISTOGRAM_KINDS else None
            cell = self._cells[key] = [0, 0, 0, _INF, -_INF, buckets, 0, None, None]
        cell[6] += 1

    def drain(self, now_s: float, before_s: int | None = None) -> list[MetricRecord]:
        """Hand over (and forget) what was recorded, as ``met`` records: everything, or
        with ``before_s`` only the seconds before it (a local run drains whole seconds)."""
        del now_s  # the cells carry their own seconds; kept for SecondRecorder's signature
        self._fold()
        if before_s is None:
            cells, self._cells = self._cells, {}
        else:
            cells = {key: cell for key, cell in list(self._cells.items()) if key[0] < before_s}
            for key in cells:
                del self._cells[key]
        return [_record(t, self._series[number], cell) for (t, number), cell in cells.items()]

    def clear(self) -> None:
        """Forget recorded data (a new run starts); registered series stay valid."""
        self._cells = {}
        self._values.clear()

    @property
    def pending_cells(self) -> int:
        """Cells held: one per second and series recorded since the last drain."""
        self._fold()
        return len(self._cells)

    def _bad_value(self, series: int, value: object, wanted: str) -> MetricError:
        s = self._series[series]
        what = {"histogram": "value", "timer": "time", "gauge": "value"}.get(s.kind, "increment")
        return MetricError(
            f"metric {s.name!r} ({s.kind}, {s.unit}): {what} must be {wanted}, got {value!r}",
            metric=s.name,
        )


def metric_dims(name: str, dims: Mapping[str, object]) -> Dims:
    """``dims`` as the sorted tuple of text pairs a series is keyed by; ints and bools are
    turned into text. ``MetricError`` naming the metric for anything else."""
    pairs = []
    for key, value in dims.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise MetricError(
                f"metric {name!r}: dimension name {key!r} is not an identifier", metric=name
            )
        if key in RESERVED_DIMENSIONS:
            raise MetricError(
                f"metric {name!r}: dimension name {key!r} is reserved "
                f"({', '.join(sorted(RESERVED_DIMENSIONS))} label the metric itself)",
                metric=name,
            )
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | str):
            text = str(value)
        else:
            raise MetricError(
                f"metric {name!r}: dimension {key}={value!r} must be text (or an integer), "
                f"got {type(value).__name__}",
                metric=name,
            )
        if len(text) > MAX_DIMENSION_VALUE_CHARS or _BAD_VALUE_CHARS.search(text):
            raise MetricError(
                f"metric {name!r}: dimension {key}={text[:40]!r} must be at most "
                f"{MAX_DIMENSION_VALUE_CHARS} characters without {{ }} = , or control characters",
                metric=name,
            )
        pairs.append((key, text))
    return tuple(sorted(pairs))


def _mismatch(name: str, kind: str, unit: str, new_kind: str, new_unit: str) -> MetricError:
    if kind != new_kind:
        return MetricError(
            f"metric {name!r} is a {kind} ({unit}) and cannot also be a {new_kind} "
            f"({new_unit}): one name, one kind",
            metric=name,
        )
    return MetricError(
        f"metric {name!r} has unit {unit!r} and cannot also be recorded in {new_unit!r}: "
        "one name, one unit",
        metric=name,
    )


def _record(t: int, series: Series, cell: _Cell) -> MetricRecord:
    count, total, squares, low, high, buckets, missing, last, last_at = cell
    record = MetricRecord(
        t=t,
        name=series.name,
        kind=series.kind,
        unit=series.unit,
        dims=dict(series.dims),
        count=count,
        sum=_wire_int(total) if type(total) is int else total,
    )
    if series.kind in HISTOGRAM_KINDS:
        record["sumsq"] = _wire_int(squares) if type(squares) is int else squares
        record["hist"] = _encoded(buckets or {})
    if count and series.kind not in ("counter", "meter"):
        record["min"] = low
        record["max"] = high
    if last is not None:
        record["last"] = last
        record["last_at"] = last_at
    if missing:
        record["missing"] = missing
    return record


_DEFAULT = MetricRecorder()


def default_recorder() -> MetricRecorder:
    """The process's recorder: the recording API writes here, the Locust glue drains it."""
    return _DEFAULT
