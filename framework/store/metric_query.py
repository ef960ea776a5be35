"""A custom metric of a run, queried: filtered and grouped by its dimensions, per time bucket.

``swarm query RUN --metric detector.server_ms --where model=fast --group-by region --every
30s`` (``framework.query_run(run, metric=..., where=..., group_by=...)``) takes the metric's
records (``met`` lines: one per second and dimension set, merged across the load
generators) in the selected seconds — the same ``--from``/``--to``/``--phase`` selection as
the request figures, paused seconds left out — keeps the dimension sets ``where`` matches,
and gives one row per time bucket (``every``, phase or fault: ``by``) and value of the
``group_by`` dimensions, with the figures of the metric's kind, in its unit:

* ``histogram``, ``timer``: ``count`` (values), ``mean`` (exact: sum over count), ``p50``,
  ``p95``, ``p99`` (of the histograms merged over the group's seconds and dimension sets,
  never percentiles averaged; clamped to the exact ``min``/``max``), ``min``, ``max``;
* ``counter``, ``meter``: ``count`` (records), ``total`` (what they added), ``rate``
  (``total`` per counted second of the bucket, seconds without a record included);
* ``gauge``: ``count`` (sets), ``last`` (the value set last in the bucket), ``min``,
  ``max``, ``mean``: time-weighted at one-second resolution — each second holds the mean
  of its sets, or the value set before it (carried over seconds without a set, from
  before the bucket too); several dimension sets in one group are averaged second by
  second.

Every kind ends with ``missing`` (values a scenario's extraction looked for and did not
find). The figures are observed, not estimated: no interval columns (the report gives each
metric's interval). A group with no record in a bucket is still a row: ``count`` 0, a
counter's ``total`` and ``rate`` 0, other figures NaN (a gauge's ``mean`` carries on).

The frame's ``attrs`` hold ``metric``, ``kind`` and ``unit``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from framework.errors import UsageError
from framework.live.custom_metrics import (
    COUNTER_KINDS,
    histogram_percentiles,
    merged_histogram,
)
from framework.store.run_seconds import RunSeconds
from framework.suggestions import closest, did_you_mean
from framework.timeline.metric_records import HISTOGRAM_KINDS, METRIC_NAME, MetricSecond

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["METRIC_FIGURES", "Where", "metric_figures", "metric_query_of", "parse_where"]

Where = Mapping[str, frozenset[str]]
"""Dimension → the values kept (any of them)."""

_HISTOGRAM = ("count", "mean", "p50", "p95", "p99", "min", "max", "missing")
_COUNTER = ("count", "total", "rate", "missing")
_GAUGE = ("count", "last", "min", "max", "mean", "missing")
METRIC_FIGURES: Mapping[str, tuple[str, ...]] = {
    "histogram": _HISTOGRAM,
    "timer": _HISTOGRAM,
    "counter": _COUNTER,
    "meter": _COUNTER,
    "gauge": _GAUGE,
}
"""The columns of figures by kind, in order."""

_REQUEST_FIGURES = ("count", "rps", "error_rate", "mean", "p50", "p95", "p99", "max")
"""``framework.store.query.QUERY_METRICS`` (that module imports this one), for hints."""
_TIME_COLUMNS = ("time", "elapsed_s", "phase", "fault", "seconds")


def parse_where(where: Mapping[str, Any] | Sequence[str] | str | None) -> dict[str, frozenset[str]]:
    """``--where`` as dimension → values: ``"model=fast"``, a list of them (the same
    dimension twice keeps either value), or a mapping (a value may be a list).

    >>> sorted(parse_where(["model=fast", "model=slow", "region=eu"])["model"])
    ['fast', 'slow']
    """
    if where is None:
        return {}
    found: dict[str, set[str]] = {}
    if isinstance(where, Mapping):
        for key, value in where.items():
            values = [value] if isinstance(value, str | int | bool) else list(value)
            found.setdefault(_dimension(str(key), f"{key}={value}"), set()).update(
                str(v) for v in values
            )
        return {k: frozenset(v) for k, v in found.items()}
    for item in [where] if isinstance(where, str) else where:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--where {item!r}: expected DIMENSION=VALUE, e.g. --where model=fast",
                flag="--where",
                value=str(item),
            )
        found.setdefault(_dimension(key.strip(), str(item)), set()).add(value.strip())
    return {k: frozenset(v) for k, v in found.items()}


def _dimension(key: str, given: str) -> str:
    if not key.isidentifier():
        raise UsageError(
            f"--where {given!r}: {key!r} is not a dimension name (a Python identifier); "
            "expected DIMENSION=VALUE, e.g. --where model=fast",
            flag="--where",
            value=given,
        )
    return key


def metric_query_of(
    seconds: RunSeconds,
    *,
    name: str,
    where: Where,
    group_by: Sequence[str],
    groups: Mapping[tuple[Any, ...], list[int]],
    by: Sequence[str],
) -> pd.DataFrame:
    """The rows of metric ``name`` over the selected seconds.

    ``groups`` are the selected indexes into ``seconds.timeline.seconds`` by time bucket
    label (``framework.store.query``'s selection, in order); ``by`` the bucket labels
    shown (``phase``, ``fault``). ``UsageError`` for an unknown metric or dimension, or a
    ``where`` that keeps no dimension set.
    """
    import pandas as pd

    timeline = seconds.timeline
    series = _series_of(seconds, name)
    kind, unit = series[0].kind, series[0].unit
    dims_known = sorted({k for s in series for k, _ in s.dims})
    _check_dimensions(name, dims_known, where, group_by, series)
    kept = {s.series for s in series if _matches(s.dims, where)}
    group_of = {key: tuple(dict(key[1]).get(d) for d in group_by) for key in kept}
    dim_groups = sorted(set(group_of.values()), key=lambda g: tuple(v or "" for v in g))
    per_row: list[list[MetricSecond]] = [
        [m for m in second.metrics if m.series in kept] for second in timeline.seconds
    ]
    held = _held_values(per_row, kept) if kind == "gauge" else {}
    figures = METRIC_FIGURES[kind]
    out = []
    for label, found in groups.items():
        first_t = timeline.seconds[found[0]].t
        for dims in dim_groups:
            row: dict[str, Any] = {
                "time": pd.Timestamp(first_t, unit="s", tz="UTC"),
                "elapsed_s": seconds.elapsed_s(first_t),
            }
            row |= {g: v for g, v in zip(("phase", "fault"), label[1:], strict=True) if g in by}
            row |= {_column(d): v for d, v in zip(group_by, dims, strict=True)}
            row["seconds"] = len(found)
            records = [m for i in found for m in per_row[i] if group_of[m.series] == dims]
            members = [held[k] for k in held if group_of[k] == dims]
            row |= metric_figures(kind, records, len(found), members, found)
            out.append(row)
    columns = ["time", "elapsed_s", *[g for g in ("phase", "fault") if g in by]]
    columns += [_column(d) for d in group_by]
    frame = pd.DataFrame(out, columns=[*columns, "seconds", *figures])
    for label in ("phase", "fault", *(_column(d) for d in group_by)):
        if label in frame:
            frame[label] = pd.Series([row[label] for row in out], dtype=object)
    frame.attrs.update(metric=name, kind=kind, unit=unit, group_by=list(group_by))
    return frame


def metric_figures(
    kind: str,
    records: Sequence[MetricSecond],
    seconds: int,
    held: Sequence[np.ndarray] = (),
    rows: Sequence[int] = (),
) -> dict[str, float]:
    """The figures of ``kind`` over ``records`` (any seconds, any dimension sets) in a
    bucket of ``seconds`` counted seconds; a gauge's time-weighted mean reads ``held`` (each
    member series' value through every second of the run) at ``rows``."""
    count = sum(r.count for r in records)
    total = float(sum(r.sum for r in records))
    lows = [r.min for r in records if r.min is not None]
    highs = [r.max for r in records if r.max is not None]
    low = min(lows) if lows else math.nan
    high = max(highs) if highs else math.nan
    out: dict[str, float] = {"count": count}
    if kind in COUNTER_KINDS:
        out["total"] = total
        out["rate"] = total / seconds if seconds else math.nan
    elif kind in HISTOGRAM_KINDS:
        out["mean"] = total / count if count else math.nan
        hist = merged_histogram(b for r in records for b in r.hist_blobs)
        levels = histogram_percentiles(
            hist, low=None if not lows else low, high=None if not highs else high
        )
        for label, value in zip(("p50", "p95", "p99"), levels, strict=True):
            out[label] = math.nan if value is None else value
        out["min"], out["max"] = low, high
    else:
        stamped = [r for r in records if r.last is not None]
        latest = max(stamped, key=lambda r: (r.last_at or r.t, r.t), default=None)
        out["last"] = math.nan if latest is None or latest.last is None else latest.last
        out["min"], out["max"] = low, high
        out["mean"] = _time_weighted(held, rows)
    out["missing"] = sum(r.missing for r in records)
    return out


def _time_weighted(held: Sequence[np.ndarray], rows: Sequence[int]) -> float:
    if not held or not rows:
        return math.nan
    at = np.asarray(rows, dtype=np.int64)
    values = np.vstack([h[at] for h in held])
    present = ~np.isnan(values)
    n = present.sum(axis=0)
    if not n.any():
        return math.nan
    per_second = np.where(present, values, 0.0).sum(axis=0)[n > 0] / n[n > 0]
    return float(per_second.mean())


def _held_values(
    per_row: Sequence[Sequence[MetricSecond]], kept: set[tuple[str, Any]]
) -> dict[tuple[str, Any], np.ndarray]:
    """Each gauge series' value through every second: the mean of that second's sets, or
    the value last set before it; NaN before its first set."""
    held = {key: np.full(len(per_row), np.nan) for key in kept}
    carried: dict[tuple[str, Any], float] = {}
    for i, records in enumerate(per_row):
        own = {r.series: float(r.sum) / r.count for r in records if r.count}
        for key in kept:
            value = own.get(key, carried.get(key))
            if value is not None:
                held[key][i] = value
        for record in records:
            if record.last is not None:
                carried[record.series] = float(record.last)
    return held


def _column(dimension: str) -> str:
    """A dimension's column: ``dim_<name>`` when named like one of the query's own."""
    taken = {*_TIME_COLUMNS, *(f for figures in METRIC_FIGURES.values() for f in figures)}
    return f"dim_{dimension}" if dimension in taken else dimension


def _series_of(seconds: RunSeconds, name: str) -> list[MetricSecond]:
    """One record of each dimension set of ``name`` (the first seen), or ``UsageError``
    listing the run's metrics."""
    first: dict[tuple[str, Any], MetricSecond] = {}
    names: set[str] = set()
    for second in (*seconds.timeline.seconds, *seconds.timeline.paused):
        for record in second.metrics:
            names.add(record.name)
            if record.name == name and record.series not in first:
                first[record.series] = record
    if first:
        return [first[k] for k in sorted(first)]
    run = seconds.record.run_id or str(seconds.path)
    if not METRIC_NAME.fullmatch(name):
        prefix = f"--metric {name!r} is not a metric name (identifiers joined by dots)"
    else:
        prefix = f"unknown metric {name!r}"
    if not names:
        raise UsageError(
            f"{prefix}: run {run} recorded no custom metric (the request figures: "
            f"{', '.join(_REQUEST_FIGURES)})",
            flag="--metric",
            value=name,
        )
    known = sorted(names)
    close = closest(name, [*known, *_REQUEST_FIGURES])
    hint = did_you_mean(close) if close else ""
    shown = ", ".join(known[:30]) + (f" and {len(known) - 30} more" if len(known) > 30 else "")
    raise UsageError(
        f"{prefix}; {hint + ' T' if hint else 't'}he custom metrics of run {run}: {shown} "
        f"(the request figures: {', '.join(_REQUEST_FIGURES)})",
        flag="--metric",
        value=name,
    )


def _check_dimensions(
    name: str,
    known: list[str],
    where: Where,
    group_by: Sequence[str],
    series: Sequence[MetricSecond],
) -> None:
    has = f"its dimensions: {', '.join(known)}" if known else "it has no dimensions"
    for flag, given in (("--where", list(where)), ("--group-by", list(group_by))):
        for dimension in given:
            if dimension in known:
                continue
            close = closest(dimension, known) if known else ()
            hint = f"{did_you_mean(close)} " if close else ""
            raise UsageError(
                f"{flag} {dimension!r}: metric {name!r} has no dimension {dimension!r}; "
                f"{hint}{has}",
                flag=flag,
                value=dimension,
            )
    for dimension, values in where.items():
        seen = sorted({v for s in series for k, v in s.dims if k == dimension})
        if not values & set(seen):
            wanted = " or ".join(f"{dimension}={v}" for v in sorted(values))
            raise UsageError(
                f"--where {wanted}: no dimension set of metric {name!r} has it; "
                f"its values of {dimension!r}: {', '.join(seen[:30])}",
                flag="--where",
                value=f"{dimension}={','.join(sorted(values))}",
            )
    if where and not any(_matches(s.dims, where) for s in series):
        raise UsageError(
            f"--where {_where_text(where)}: no dimension set of metric {name!r} has all of "
            f"these; its dimension sets: {', '.join(s.key for s in series[:20])}",
            flag="--where",
            value=_where_text(where),
        )


def _where_text(where: Where) -> str:
    return " ".join(f"{k}={'|'.join(sorted(v))}" for k, v in sorted(where.items()))


def _matches(dims: tuple[tuple[str, str], ...], where: Where) -> bool:
    held = dict(dims)
    return all(held.get(k) in values for k, values in where.items())
