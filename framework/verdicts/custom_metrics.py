"""Custom metrics over the analysed window: each figure with an interval honest for time.

A custom metric (``framework.timeline.metric_records``) is judged over the same window as
the requests' baseline, and its intervals come from the same estimators
(``framework.stats.estimators``: batch means over per-second data, or the block bootstrap
when the run is short for its correlation time), so a metric's interval is as honest for
autocorrelated data as a latency's. Per kind:

* histogram and timer: the exact ``mean`` (from the exact sums), ``p50``/``p95``/``p99``
  from the merged per-second histograms (values × ``METRIC_SCALE`` there, so a figure is
  divided by it), each with an interval, and the observed ``max``;
* counter and meter: ``rate``, the mean of the per-second totals (a second without any
  add counts as 0: it is time too) with an interval, and the ``total``;
* gauge: the time-weighted ``mean`` with an interval, ``min``, ``max`` and ``last``. The
  gauge is a step function at 1 s resolution: each second takes the last value set in it
  and holds it until the next set; a value set before the window holds into it, and the
  seconds before the first set are not counted. All dimension sets together average the
  sets' held values second by second (each set that has a value counts once).

One ``MetricResult`` per metric with ``dims={}`` (all dimension sets together), then one
per dimension set, metrics by name. A metric recorded only outside the window is listed
with ``count`` 0 and figures without a value, so a budget on it says "nothing in the
window" rather than "never recorded". A figure with too little data for an interval (fewer
than two batches with data) has ``low``/``high`` ``None`` and a note saying so.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from framework.stats.estimators import DEFAULT_BATCHES, Estimate, estimates
from framework.stats.histogram_sums import HistogramSums
from framework.stats.interval_data import IntervalColumns, columns_from_rows
from framework.timeline.codec import rows_from_blobs
from framework.timeline.metric_records import METRIC_SCALE, MetricSecond, metric_key
from framework.timeline.records import Second, Timeline
from framework.verdicts.budgets import OBSERVED
from framework.verdicts.results import Figure, MetricResult

__all__ = ["MIN_INTERVAL_SECONDS", "OBSERVED", "metric_results"]

MIN_INTERVAL_SECONDS = 3
"""Fewest seconds with data (values, adds or sets) a figure's interval rests on: fewer
make the batches or bootstrap blocks repeat one or two seconds, and the interval they
give (``[2, 2]`` from a single value) would claim a precision nothing measured."""


Dims = tuple[tuple[str, str], ...]
_HISTOGRAM_FIGURES = ("mean", "p50", "p95", "p99")
_SHIFT_SPANS = 100.0
"""A gauge's values are moved this many spans above 0 before estimating its mean: the
estimators keep an interval of a mean at or above 0 (right for latencies, wrong for a
gauge that may be negative), and the move changes no batch mean's spread."""


@dataclass
class _Series:
    """One metric's records in the window, each with its row (second) in the window."""

    name: str
    kind: str
    unit: str
    dims: Dims
    rows: list[tuple[int, MetricSecond]]
    carried: MetricSecond | None = None  # a gauge's latest set before the window


def metric_results(
    timeline: Timeline, start_s: int, end_s: int, *, confidence: float = 0.95
) -> tuple[MetricResult, ...]:
    """Every custom metric of ``timeline`` over the seconds ``[start_s, end_s)``.

    ``timeline.seconds`` holds the counted seconds only (paused ones are out), and each of
    those in the window is one interval of the estimators.
    """
    seconds = timeline.seconds
    times = [s.t for s in seconds]
    first, last = bisect.bisect_left(times, start_s), bisect.bisect_left(times, end_s)
    inside = seconds[first : max(first, last)]
    by_series, skipped = _series(seconds[:first], inside, seconds[max(first, last) :])
    names = sorted({name for name, _ in by_series})
    results: list[MetricResult] = []
    for name in names:
        parts = [by_series[k] for k in sorted(k for k in by_series if k[0] == name)]
        note = _mixed_note(name, skipped.get(name, 0), parts[0])
        whole = _Series(
            name,
            parts[0].kind,
            parts[0].unit,
            (),
            sorted((r for p in parts for r in p.rows), key=lambda r: r[0]),
        )
        results.append(_result(whole, parts, len(inside), confidence, note))
        if len(parts) > 1 or parts[0].dims:
            results += [_result(p, [p], len(inside), confidence, note) for p in parts]
    return tuple(results)


def _series(
    before: Sequence[Second], inside: Sequence[Second], after: Sequence[Second]
) -> tuple[dict[tuple[str, Dims], _Series], dict[str, int]]:
    """The window's records by (name, dims), every series of the timeline included; a
    name's kind and unit are those of its first record, and records of another kind or
    unit (counted in the second dict) are left out."""
    found: dict[tuple[str, Dims], _Series] = {}
    kinds: dict[str, tuple[str, str]] = {}
    skipped: dict[str, int] = {}

    def series_of(m: MetricSecond) -> _Series | None:
        kind = kinds.setdefault(m.name, (m.kind, m.unit))
        if kind != (m.kind, m.unit):
            skipped[m.name] = skipped.get(m.name, 0) + 1
            return None
        key = (m.name, m.dims)
        if key not in found:
            found[key] = _Series(m.name, m.kind, m.unit, m.dims, [])
        return found[key]

    for second in before:
        for m in second.metrics:
            s = series_of(m)
            if s is not None and m.last is not None:
                s.carried = m if s.carried is None else s.carried.combine(m)
    for row, second in enumerate(inside):
        for m in second.metrics:
            s = series_of(m)
            if s is not None:
                s.rows.append((row, m))
    for second in after:
        for m in second.metrics:
            series_of(m)
    return found, skipped


def _mixed_note(name: str, skipped: int, first: _Series) -> tuple[str, ...]:
    if not skipped:
        return ()
    return (
        f"{skipped} record(s) of {name!r} with another kind or unit than its first "
        f"({first.kind}, {first.unit}) left out",
    )


def _result(
    series: _Series,
    parts: Sequence[_Series],
    rows: int,
    confidence: float,
    notes: tuple[str, ...],
) -> MetricResult:
    records = [m for _, m in series.rows]
    count = sum(m.count for m in records)
    if series.kind in ("histogram", "timer"):
        figures = _histogram_figures(series, rows, confidence)
    elif series.kind in ("counter", "meter"):
        figures = _counter_figures(series, rows, confidence)
    else:
        figures = _gauge_figures(parts, rows, confidence)
    if notes:
        figures = {k: replace(f, notes=(*f.notes, *notes)) for k, f in figures.items()}
    return MetricResult(
        name=series.name,
        kind=series.kind,
        unit=series.unit,
        dims=dict(series.dims),
        key=metric_key(series.name, series.dims),
        count=count,
        missing=sum(m.missing for m in records),
        figures=figures,
    )


def _figure(est: Estimate | None, scale: float, empty: str) -> Figure:
    """``Figure.from_estimate``, but a figure without a value says why."""
    figure = Figure.from_estimate(est, scale)
    if figure.value is None:
        return Figure(value=None, confidence=est.confidence if est else 0.95, notes=(empty,))
    return figure


def _sparse(figure: Figure, seconds: int) -> Figure:
    """``figure`` without its interval when it rests on too few seconds with data."""
    if figure.value is None or seconds >= MIN_INTERVAL_SECONDS:
        return figure
    note = (
        f"data in only {seconds} second(s) of the window: too few for an interval "
        f"(needs {MIN_INTERVAL_SECONDS})"
    )
    return replace(figure, low=None, high=None, effective_n=None, notes=(*figure.notes, note))


def _observed(value: float | None, n: int, empty: str) -> Figure:
    if value is None:
        return Figure(value=None, notes=(empty,))
    return Figure(value=float(value), n=n, method=OBSERVED)


def _plain_columns(values: np.ndarray) -> IntervalColumns:
    """One interval per value, each a single observation: the estimators' ``mean`` of
    these is the mean of ``values`` with a batch-means interval over time."""
    ones = np.ones(len(values))
    zeros = np.zeros(len(values))
    return IntervalColumns(
        counts=ones,
        failures=zeros,
        sums=values.astype(float),
        sumsqs=values.astype(float) ** 2,
        timeouts=zeros,
        interval_s=1.0,
        hist=None,
        bucket_us=None,
    )


def _histogram_figures(series: _Series, rows: int, confidence: float) -> dict[str, Figure]:
    empty = "no values in the analysed window"
    count = sum(m.count for _, m in series.rows)
    if not rows or not count:
        figures = {k: Figure(value=None, notes=(empty,)) for k in _HISTOGRAM_FIGURES}
        return {**figures, "max": Figure(value=None, notes=(empty,))}
    counts, sums, sumsqs = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    blob_rows, blobs = [], []
    for row, m in series.rows:
        counts[row] += m.count
        sums[row] += float(m.sum)
        sumsqs[row] += float(m.sumsq)
        for blob in m.hist_blobs:
            blob_rows.append(row)
            blobs.append(blob)
    hist = rows_from_blobs(np.array(blob_rows, dtype=np.int64), blobs, rows)
    zeros = np.zeros(rows)
    cols = columns_from_rows(counts, zeros, sums, sumsqs, zeros, hist, interval_s=1.0)
    sums_kept = HistogramSums(cols, batches=DEFAULT_BATCHES)
    found = estimates(cols, _HISTOGRAM_FIGURES, confidence=confidence, sums=sums_kept)
    seconds = int(np.count_nonzero(counts))
    figures = {
        # the mean from the exact sums (in the unit); percentiles from the histograms,
        # which count thousandths of the unit
        k: _sparse(_figure(found[k], 1.0 if k == "mean" else 1 / METRIC_SCALE, empty), seconds)
        for k in _HISTOGRAM_FIGURES
    }
    top = max((m.max for _, m in series.rows if m.max is not None), default=None)
    figures["max"] = _observed(top, count, empty)
    return figures


def _counter_figures(series: _Series, rows: int, confidence: float) -> dict[str, Figure]:
    totals = np.zeros(rows)
    for row, m in series.rows:
        totals[row] += float(m.sum)
    adds = sum(m.count for _, m in series.rows)
    total = _observed(float(totals.sum()) if rows else None, adds, "no seconds in the window")
    if not rows:
        return {"rate": Figure(value=None, notes=("no seconds in the window",)), "total": total}
    est = estimates(_plain_columns(totals), ("mean",), confidence=confidence)["mean"]
    seconds = len({row for row, m in series.rows if m.count})
    rate = _sparse(_figure(est, 1.0, "no seconds in the window"), seconds)
    return {"rate": rate, "total": total}


def _held(series: _Series, rows: int) -> np.ndarray:
    """The gauge's value through each second of the window (NaN before its first set)."""
    out = np.full(rows, np.nan)
    held = series.carried.last if series.carried is not None else None
    by_row: dict[int, MetricSecond] = {}
    for row, m in series.rows:
        by_row[row] = by_row[row].combine(m) if row in by_row else m
    for row in range(rows):
        found = by_row.get(row)
        if found is not None and found.last is not None:
            held = found.last
        if held is not None:
            out[row] = held
    return out


def _gauge_figures(parts: Sequence[_Series], rows: int, confidence: float) -> dict[str, Figure]:
    empty = "never set by the end of the analysed window"
    records = [m for p in parts for _, m in p.rows]
    sets = sum(m.count for m in records)
    extremes = [v for m in records for v in (m.min, m.max) if v is not None]
    extremes += [p.carried.last for p in parts if p.carried and p.carried.last is not None]
    latest = [m for m in records if m.last is not None]
    latest += [p.carried for p in parts if p.carried is not None]
    last = max(latest, key=lambda m: m.last_at if m.last_at is not None else m.t, default=None)
    figures = {
        "min": _observed(min(extremes, default=None), sets, empty),
        "max": _observed(max(extremes, default=None), sets, empty),
        "last": _observed(last.last if last is not None else None, sets, empty),
    }
    held = np.array([_held(p, rows) for p in parts]) if rows else np.zeros((len(parts), 0))
    counted = ~np.all(np.isnan(held), axis=0) if rows else np.zeros(0, dtype=bool)
    if not counted.any():
        return {"mean": Figure(value=None, notes=(empty,)), **figures}
    with np.errstate(invalid="ignore"):
        levels = np.nanmean(held[:, counted], axis=0)
    low, high = float(levels.min()), float(levels.max())
    shift = _SHIFT_SPANS * max(high - low, abs(high), abs(low), 1.0) - low
    est = estimates(_plain_columns(levels + shift), ("mean",), confidence=confidence)["mean"]
    est = replace(est, value=est.value - shift, low=est.low - shift, high=est.high - shift)
    # the value itself exactly, not through the shift
    seconds = len({row for p in parts for row, m in p.rows if m.count})
    seconds += any(p.carried is not None for p in parts)
    mean = _sparse(replace(_figure(est, 1.0, empty), value=float(levels.mean())), seconds)
    return {"mean": mean, **figures}
