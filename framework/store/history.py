"""A metric's trend across runs, with the runs where its level changed, and a text rendering.

One comparison against one baseline misses slow creep and mistakes a noisy run for a
regression; the whole history shows *where* the level moved.  ``trend`` is a pure function
of the points ``ResultsStore.history`` returns: it runs the change-point detection of
``framework.stats.changepoint`` (E-Divisive means with Hunter's t-test) over the values and names
each change by its run, size and direction ("+8.2% at run X").  ``render_trend`` draws it
for ``swarm history``: a sparkline with the change points marked, the changes, and a table.

Example::

    >>> points = [(f"run{i}", f"2026-01-{i + 1:02d}", 100.0 if i < 12 else 110.0, None, None)
    ...           for i in range(24)]
    >>> [s.describe() for s in trend(points, metric="p95").shifts]
    ['+10.0% at run run12']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from framework.store.records import HistoryPoint
from framework.store.results_store import METRICS
from framework.timeline.endpoints import OVERALL

__all__ = ["Shift", "Trend", "format_value", "render_trend", "sparkline", "trend"]

SPARK = "▁▂▃▄▅▆▇█"
# Metrics for which a rise is good news; for every other one (latency, errors) it is bad.
HIGHER_IS_BETTER = frozenset({"throughput"})
UNITS = {"throughput": "req/s", "error_rate": "%"}


@dataclass(frozen=True)
class Shift:
    """A change of level: ``index`` (0-based in the trend) is the first run at the new level.

    ``before`` and ``after`` are the mean values between the neighbouring change points;
    ``relative_change`` is after / before - 1 (infinite when ``before`` is 0); ``worse``
    reads the direction for the metric (a rise in latency is worse, in throughput better);
    ``None`` for a custom counter's or meter's rate, which has no worse direction.
    """

    index: int
    run_id: str
    started_at: str
    before: float
    after: float
    relative_change: float
    p_value: float
    worse: bool | None

    @property
    def judged(self) -> str:
        """``worse``, ``better``, or ``changed`` when the metric has no worse direction."""
        return "changed" if self.worse is None else ("worse" if self.worse else "better")

    @property
    def direction(self) -> str:
        return "up" if self.after > self.before else "down"

    def describe(self) -> str:
        """``+8.2% at run X`` (or ``0 → 0.012 at run X`` when the level was 0)."""
        if math.isfinite(self.relative_change):
            return f"{self.relative_change:+.1%} at run {self.run_id}"
        return f"{self.before:g} → {self.after:g} at run {self.run_id}"


@dataclass(frozen=True)
class Trend:
    """One metric of one request name across the runs of a scenario, oldest first; or, with
    ``unit`` set, one figure (``metric``) of the custom metric whose key is ``name``."""

    scenario: str
    name: str
    metric: str
    points: tuple[HistoryPoint, ...]
    shifts: tuple[Shift, ...]
    unit: str | None = None
    worse: str = "higher"
    """A custom metric's worse direction: ``higher``, ``lower`` or ``""`` (none)."""

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(p.value for p in self.points)


def trend(
    points: Sequence[Sequence[object]],
    *,
    metric: str = "p95",
    scenario: str = "",
    name: str = OVERALL,
    max_pvalue: float | None = None,
    min_magnitude: float = 0.0,
    unit: str | None = None,
    worse: str = "higher",
) -> Trend:
    """The trend of ``points`` — ``(run_id, started_at, value, low, high)``, oldest first.

    Points without a value are left out.  ``max_pvalue`` and ``min_magnitude`` (0.05 = 5%)
    go to ``framework.stats.changepoint.detect``: how sure and how large a change must be.
    A custom metric's figure gives its ``unit`` and which way is ``worse`` (``higher``,
    ``lower``, or ``""``: a shift is only "changed"); ``metric`` is then its figure's name.
    """
    if unit is None and metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    kept = tuple(HistoryPoint(*p) for p in points if p[2] is not None)  # type: ignore[misc]
    from framework.stats.changepoint import detect  # SciPy: loaded only when a trend is asked for

    found = detect([p.value for p in kept], max_pvalue=max_pvalue, min_magnitude=min_magnitude)
    shifts = tuple(
        Shift(
            index=cp.index,
            run_id=kept[cp.index].run_id,
            started_at=kept[cp.index].started_at,
            before=cp.before,
            after=cp.after,
            relative_change=cp.relative_change,
            p_value=cp.p_value,
            worse=_worse(cp.after > cp.before, metric, unit, worse),
        )
        for cp in found
    )
    return Trend(scenario, name, metric, kept, shifts, unit, worse)


def _worse(rose: bool, metric: str, unit: str | None, worse: str) -> bool | None:
    if unit is None:
        return rose != (metric in HIGHER_IS_BETTER)
    if not worse:
        return None
    return rose == (worse == "higher")


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """One block character per value (or per bucket of values, averaged, to fit ``width``)."""
    if not values:
        return ""
    buckets = _buckets(len(values), width)
    means = [sum(values[a:b]) / (b - a) for a, b in buckets]
    low, high = min(means), max(means)
    if high == low:
        return SPARK[len(SPARK) // 2] * len(means)
    scale = (len(SPARK) - 1) / (high - low)
    return "".join(SPARK[round((m - low) * scale)] for m in means)


def format_value(metric: str, value: float | None) -> str:
    """A value in the metric's unit: ``101.3`` ms, ``12.0`` req/s, ``0.12%``."""
    if value is None:
        return "-"
    if metric == "error_rate":
        return f"{value:.2%}"
    if metric == "throughput" or abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_trend(history: Trend, *, width: int = 60, max_rows: int = 30) -> str:
    """The text ``swarm history`` prints: header, sparkline, change points, table of runs.

    The table shows the newest ``max_rows`` runs and every change point with the run before
    it; other runs are elided as ``… N runs``.
    """
    unit = UNITS.get(history.metric, "ms") if history.unit is None else history.unit
    count = len(history.points)
    label = f"{history.scenario} · {history.name} · {history.metric} ({unit})".lstrip(" ·")
    plural = "s" if len(history.shifts) != 1 else ""
    lines = [f"{label}: {count} run{'s' if count != 1 else ''}, "
             f"{len(history.shifts)} change point{plural}"]  # fmt: skip
    if not count:
        lines.append("  no analysed run has this figure yet")
        return "\n".join(lines)
    values = history.values
    buckets = _buckets(count, width)
    lines.append(
        f"  {sparkline(values, width)}  "
        f"min {format_value(history.metric, min(values))}  "
        f"max {format_value(history.metric, max(values))}"
    )
    if history.shifts:
        marks = [" "] * len(buckets)
        for shift in history.shifts:
            marks[next(i for i, (a, b) in enumerate(buckets) if a <= shift.index < b)] = "^"
        lines.append("  " + "".join(marks).rstrip())
        for shift in history.shifts:
            lines.append(
                f"  {shift.describe()} ({shift.started_at[:16].replace('T', ' ')}): "
                f"{format_value(history.metric, shift.before)} → "
                f"{format_value(history.metric, shift.after)}, "
                f"p = {shift.p_value:.1g}, {shift.judged}"
            )
    lines.append("")
    lines.extend(_table(history, max_rows))
    return "\n".join(lines)


def _table(history: Trend, max_rows: int) -> list[str]:
    shifts = {s.index: s for s in history.shifts}
    count = len(history.points)
    shown = set(range(max(count - max_rows, 0), count))
    for index in shifts:
        shown |= {index - 1, index}
    id_width = max(len(p.run_id) for p in history.points)
    header = f"  {'#':>4}  {'run':<{id_width}}  {'started (UTC)':<16}  {history.metric:>10}"
    rows = [header + "  interval"]
    skipped = 0
    for i, point in enumerate(history.points):
        if i not in shown:
            skipped += 1
            continue
        if skipped:
            rows.append(f"  {'…':>4}  {skipped} run{'s' if skipped != 1 else ''}")
            skipped = 0
        interval = ""
        if point.low is not None and point.high is not None:
            low, high = (format_value(history.metric, v) for v in (point.low, point.high))
            interval = f"[{low}, {high}]"
        mark = f"  ◀ {shifts[i].describe().split(' at ')[0]}" if i in shifts else ""
        rows.append(
            f"  {i + 1:>4}  {point.run_id:<{id_width}}  "
            f"{point.started_at[:16].replace('T', ' '):<16}  "
            f"{format_value(history.metric, point.value):>10}  {interval}{mark}".rstrip()
        )
    return rows


def _buckets(count: int, width: int | None) -> list[tuple[int, int]]:
    """Split ``count`` values into at most ``width`` consecutive, nearly equal buckets."""
    slots = count if width is None or width >= count else max(width, 1)
    return [(i * count // slots, (i + 1) * count // slots) for i in range(slots)]
