"""Each custom metric second by second, for the report's charts (``Results.metric_series``).

The charts read the timeline as the request charts do (``Second.metrics``), one point per
second for each metric name, its dimension sets together: a histogram's or timer's p95
(its HdrHistogram counts thousandths of the unit, ``METRIC_SCALE``), a counter's or
meter's rate (its sum in that second), a gauge's last value. A second without a record
of the metric is a gap (``None``), not a zero, except for counters and meters, which
count zero once the metric has been seen.
"""

from __future__ import annotations

from collections.abc import Iterable

from framework.timeline.metric_records import HISTOGRAM_KINDS, METRIC_SCALE, MetricSecond
from framework.timeline.records import Second
from framework.verdicts.results import MetricSeries

__all__ = ["SERIES_FIGURES", "metric_series"]

SERIES_FIGURES = {"histogram": "p95", "timer": "p95", "counter": "rate", "meter": "rate",
                  "gauge": "last"}  # fmt: skip
"""What each kind's per-second point is."""


def metric_series(seconds: Iterable[Second]) -> tuple[MetricSeries, ...]:
    """One ``MetricSeries`` per custom metric name in ``seconds``, sorted by name."""
    seconds = list(seconds)
    names: dict[str, MetricSecond] = {}
    for second in seconds:
        for record in second.metrics:
            names.setdefault(record.name, record)
    out = []
    for name, first in sorted(names.items()):
        counting = first.kind in ("counter", "meter")
        points: list[tuple[int, float | None]] = []
        for second in seconds:
            merged = _merged(r for r in second.metrics if r.name == name)
            if merged is None:
                points.append((second.t, 0.0 if counting and points else None))
            else:
                points.append((second.t, _point(merged)))
        out.append(MetricSeries(name, first.kind, first.unit, SERIES_FIGURES[first.kind],
                                tuple(points)))  # fmt: skip
    return tuple(out)


def _merged(records: Iterable[MetricSecond]) -> MetricSecond | None:
    merged = None
    for record in records:
        merged = record if merged is None else merged.combine(record)
    return merged


def _point(record: MetricSecond) -> float | None:
    if record.kind in HISTOGRAM_KINDS:
        if not record.count:
            return None
        return record.histogram().get_value_at_percentile(95) / METRIC_SCALE
    if record.kind in ("counter", "meter"):
        return float(record.sum)
    return record.last
