"""``query_run``: any part of a run's timeline, grouped, each figure with the report's interval.

A question such as "p95 of POST /detect during the fault, every 30 s" is a selection of
seconds (a time range from the run's start, a phase), of request names (globs) and a
grouping (by name, phase, fault, or fixed intervals). Each group's figures are computed
exactly as the report computes a window's: the group's per-second counters and histograms
(``framework.verdicts.analysis.window_series``) go through the same estimators
(``framework.stats.estimators.estimates``, batch means over time, the same seed), so a
group holding the report's steady-state window gives the report's p95 and interval to the
last digit. Histograms are merged across the seconds, never percentiles averaged.

Paused seconds are in no group (the report leaves them out too); a group whose seconds are
not contiguous (the seconds without a fault, before and after it) is estimated over its
seconds put end to end.

Example::

    query_run("latest", phase="step 3", by="name", metrics=("p95", "error_rate"))
    query_run(run_dir, start="5m", end="20m", names="POST /detect*", every="30s")
    query_run("latest", metric="detector.server_ms", where="model=fast", group_by="region")

With ``metric``, the rows are a custom metric's instead (``framework.store.metric_query``):
filtered by its dimensions (``where``) and grouped by them (``group_by``), with the figures
of its kind.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framework.errors import UsageError
from framework.scenario.metrics import KEY_METRICS
from framework.stats.estimators import DEFAULT_BATCHES, Estimate, estimates
from framework.stats.histogram_sums import HistogramSums
from framework.store.frame import run_frame
from framework.store.metric_query import metric_query_of, parse_where
from framework.store.run_seconds import RunSeconds, parse_offset, resolve_run_dir
from framework.timeline.endpoints import endpoint_key
from framework.timeline.histograms import BucketRows
from framework.timeline.records import SecondCounters
from framework.verdicts.analysis import estimator_columns, window_series

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_METRICS", "GROUPINGS", "QUERY_METRICS", "query_of", "query_run", "run_frame"]

QUERY_METRICS = ("count", "rps", "error_rate", "mean", "p50", "p95", "p99", "max")
"""What ``query_run`` can compute. ``count`` (requests) and ``max`` (the highest latency)
are observed, not estimated: they have no interval columns."""

DEFAULT_METRICS = ("count", "rps", "error_rate", "mean", "p50", "p95", "p99")

GROUPINGS = ("name", "phase", "fault")
"""What ``by`` accepts (with ``every`` for fixed intervals)."""

_ESTIMATED = {
    "rps": "throughput",
    "error_rate": "error_rate",
    "mean": "mean",
    "p50": "p50",
    "p95": "p95",
    "p99": "p99",
}
"""Each estimated query metric → the estimators' name for it."""

_LATENCY = ("mean", "p50", "p95", "p99", "max")


def query_run(
    run: str | Path,
    *,
    start: float | str | None = None,
    end: float | str | None = None,
    phase: str | None = None,
    names: Sequence[str] | str | None = None,
    by: Sequence[str] | str = (),
    every: float | str | None = None,
    metrics: Sequence[str] | str = DEFAULT_METRICS,
    confidence: float = 0.95,
    reports_dir: str | Path = "reports",
    metric: str | None = None,
    where: Mapping[str, Any] | Sequence[str] | str | None = None,
    group_by: Sequence[str] | str = (),
) -> pd.DataFrame:
    """Figures of a part of ``run``, one row per group, each with its interval.

    ``run`` is a run folder, a run id in ``reports_dir`` or ``"latest"``. The seconds
    taken are those wholly inside ``[start, end)`` — times after the run's start: seconds,
    or ``"5m"``, ``"1h2m"``, ``"02:30"`` (mm:ss) — and inside ``phase`` (a phase of the
    plan, by name) when given; paused seconds never count. ``names`` are globs matched
    against each request's key (``"POST /detect"``) and its name (``"/detect*"``); without
    them, every name. ``by`` groups by ``"name"``, ``"phase"`` and/or ``"fault"``, and
    ``every`` (seconds or a duration, whole seconds) cuts the selection into fixed
    intervals from its first second; with neither, one row holds all of it (the selected
    names together, as the report's "all requests").

    Each row has ``time`` and ``elapsed_s`` (its first second: UTC, and seconds after the
    run's start), the group's keys (``method`` and ``name``, ``phase``, ``fault``),
    ``seconds`` (counted seconds in it), then for each of ``metrics`` (``QUERY_METRICS``)
    a column of that name and, but for ``count`` and ``max``, ``<metric>_low`` and
    ``<metric>_high``: the interval at ``confidence``, by batch means over time exactly as
    the report computes it. Latencies (``mean``, ``p50``, ``p95``, ``p99``, ``max``) are in
    ms of successful requests; ``rps`` in requests per second; ``error_rate`` a fraction.
    NaN where there is nothing to estimate (no request; an interval needs 2 seconds).

    ``metric`` names a custom metric instead (``metrics`` and ``names`` are then not used):
    its records in the same selection of seconds, those whose dimensions ``where`` matches
    (``"model=fast"``, a list of such, or a mapping; the same dimension twice keeps either
    value), one row per time bucket (``every``, ``by`` phase or fault) and value of the
    ``group_by`` dimensions (a column each), with the figures of the metric's kind
    (``framework.store.metric_query.METRIC_FIGURES``; no intervals) in its unit.

    Raises ``UsageError`` (exit 2) for a bad argument — ``start`` after ``end``, a range
    outside the run, an unknown phase or metric (listing the allowed ones), globs matching
    no name (listing the names), an unknown custom metric or dimension (listing the known
    ones), a malformed ``where``, no such run — and ``ReportError`` when the run's files
    cannot be read.
    """
    wanted = parse_where(where)
    dims = _dimensions(group_by)
    if metric is None and (wanted or dims):
        flag = "--where" if wanted else "--group-by"
        raise UsageError(
            f"{flag} filters and groups a custom metric's dimensions: give --metric NAME too",
            flag=flag,
        )
    chosen = _metrics(metrics) if metric is None else ()
    groups = _groupings(by)
    if metric is not None:
        if "name" in groups:
            raise UsageError(
                "--by name groups requests; a custom metric is grouped by its dimensions "
                "(--group-by DIMENSION)",
                flag="--by",
                value="name",
            )
        if names:
            raise UsageError(
                "--name selects requests; a custom metric's dimension sets are selected with "
                "--where DIMENSION=VALUE",
                flag="--name",
                value=names if isinstance(names, str) else ",".join(names),
            )
    every_s = None if every is None else _every(every)
    if not 0 < confidence < 1:
        raise UsageError(
            f"confidence must be between 0 and 1, got {confidence!r}",
            flag="--confidence",
            value=str(confidence),
        )
    start_s = None if start is None else parse_offset(start, "--from")
    end_s = None if end is None else parse_offset(end, "--to")
    if start_s is not None and end_s is not None and start_s >= end_s:
        raise UsageError(
            f"--from {_clock(start_s)} is not before --to {_clock(end_s)}: the range is empty",
            flag="--from",
            value=str(start),
        )
    seconds = RunSeconds.load(resolve_run_dir(run, reports_dir))
    if metric is not None:
        times = np.array([s.t for s in seconds.timeline.seconds], dtype=np.int64)
        if not times.size:
            raise UsageError(
                f"run {seconds.record.run_id or seconds.path} has no counted second", flag="RUN"
            )
        keep = _in_range(seconds, times, start_s, end_s)
        if phase is not None:
            keep &= _in_phase(seconds, times, phase)
        rows = np.flatnonzero(keep)
        return metric_query_of(
            seconds,
            name=metric,
            where=wanted,
            group_by=dims,
            groups=_second_groups(seconds, times, rows, groups, every_s),
            by=groups,
        )
    return query_of(
        seconds,
        start_s=start_s,
        end_s=end_s,
        phase=phase,
        names=[names] if isinstance(names, str) else names,
        by=groups,
        every_s=every_s,
        metrics=chosen,
        confidence=confidence,
    )


def query_of(
    seconds: RunSeconds,
    *,
    start_s: float | None,
    end_s: float | None,
    phase: str | None,
    names: Sequence[str] | None,
    by: Sequence[str],
    every_s: int | None,
    metrics: Sequence[str],
    confidence: float,
) -> pd.DataFrame:
    """``query_run`` of a run already read, its arguments already checked."""
    import pandas as pd

    times = np.array([s.t for s in seconds.timeline.seconds], dtype=np.int64)
    keep = _in_range(seconds, times, start_s, end_s)
    if phase is not None:
        keep &= _in_phase(seconds, times, phase)
    chosen, every_name = _endpoints(seconds, names)
    rows = np.flatnonzero(keep)
    among = None if every_name else [endpoint_key(m, n) for m, n in chosen]
    name_groups: list[tuple[str | None, str | None, str | None, list[str] | None]]
    if "name" in by:
        name_groups = [(m, n, endpoint_key(m, n), None) for m, n in chosen]
    else:
        name_groups = [(None, None, None, among)]
    out = []
    for label, found in _second_groups(seconds, times, rows, by, every_s).items():
        for method, name, key, names_among in name_groups:
            row: dict[str, Any] = {
                "time": pd.Timestamp(int(times[found[0]]), unit="s", tz="UTC"),
                "elapsed_s": seconds.elapsed_s(int(times[found[0]])),
            }
            if "name" in by:
                row |= {"method": method, "name": name}
            row |= {g: v for g, v in zip(("phase", "fault"), label[1:], strict=True) if g in by}
            row["seconds"] = len(found)
            row |= _figures(seconds, times, found, key, names_among, metrics, confidence)
            out.append(row)
    frame = pd.DataFrame(out, columns=_columns(by, metrics))
    for label in ("phase", "fault"):  # None stays None (no phase, no fault), not NaN
        if label in by:
            frame[label] = pd.Series([row[label] for row in out], dtype=object)
    return frame


def _columns(by: Sequence[str], metrics: Sequence[str]) -> list[str]:
    keys = ["method", "name"] if "name" in by else []
    keys += [g for g in ("phase", "fault") if g in by]
    figures = []
    for m in metrics:
        figures += [m] if m not in _ESTIMATED else [m, f"{m}_low", f"{m}_high"]
    return ["time", "elapsed_s", *keys, "seconds", *figures]


def _metrics(metrics: Sequence[str] | str) -> tuple[str, ...]:
    given = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    unknown = [m for m in given if m not in QUERY_METRICS]
    if unknown or not given:
        what = f"unknown metric {unknown[0]!r}" if unknown else "no metric given"
        raise UsageError(
            f"{what}; choose from {', '.join(QUERY_METRICS)}",
            flag="--metric",
            value=",".join(unknown),
        )
    return tuple(dict.fromkeys(given))


def _groupings(by: Sequence[str] | str) -> tuple[str, ...]:
    given = [b.strip() for b in (by.split(",") if isinstance(by, str) else by) if b.strip()]
    unknown = [b for b in given if b not in GROUPINGS]
    if unknown:
        raise UsageError(
            f"cannot group by {unknown[0]!r}; choose from {', '.join(GROUPINGS)} "
            "(and --every for fixed intervals)",
            flag="--by",
            value=unknown[0],
        )
    return tuple(dict.fromkeys(given))


def _dimensions(group_by: Sequence[str] | str) -> tuple[str, ...]:
    given = group_by.split(",") if isinstance(group_by, str) else list(group_by)
    found = [g.strip() for g in given if g.strip()]
    for dimension in found:
        if not dimension.isidentifier():
            raise UsageError(
                f"--group-by {dimension!r}: not a dimension name (a Python identifier)",
                flag="--group-by",
                value=dimension,
            )
    return tuple(dict.fromkeys(found))


def _every(every: float | str) -> int:
    value = parse_offset(every, "--every")
    if value < 1 or value != int(value):
        raise UsageError(
            f"--every {every!r}: intervals are whole seconds, at least 1s (e.g. 30s, 1m)",
            flag="--every",
            value=str(every),
        )
    return int(value)


def _clock(value: float) -> str:
    """``754.5`` → ``12:34.5``: a time from the run's start as people read it."""
    minutes, rest = divmod(value, 60)
    if rest != int(rest):
        return f"{int(minutes)}:{rest:04.1f}"
    return f"{int(minutes)}:{int(rest):02d}"


def _in_range(
    seconds: RunSeconds, times: np.ndarray, start_s: float | None, end_s: float | None
) -> np.ndarray:
    """The counted seconds wholly inside ``[start_s, end_s)`` after the run's start (the
    report's rule for a window); ``UsageError`` when the range misses the run."""
    lasted = seconds.end_s - seconds.start_s
    if start_s is not None and start_s >= lasted:
        raise UsageError(
            f"--from {_clock(start_s)} is at or after the end of the run "
            f"(it lasted {_clock(lasted)})",
            flag="--from",
            value=str(start_s),
        )
    if end_s is not None and end_s <= 0:
        raise UsageError("--to must be after the run's start", flag="--to", value=str(end_s))
    first = -math.inf if start_s is None else math.ceil(seconds.start_s + start_s)
    last = math.inf if end_s is None else math.floor(seconds.start_s + end_s)
    keep = (times >= first) & (times < last)
    if not keep.any():
        span = f"{_clock(start_s or 0.0)}–{_clock(end_s) if end_s is not None else 'end'}"
        raise UsageError(
            f"the range {span} holds no whole counted second of the run: a second counts "
            f"when it lies wholly inside the range and the run was not paused in it (the run "
            f"lasted {_clock(lasted)})",
            flag="--from" if start_s is not None else "--to",
            value=span,
        )
    return keep


def _in_phase(seconds: RunSeconds, times: np.ndarray, phase: str) -> np.ndarray:
    if phase not in seconds.phases:
        known = ", ".join(repr(p) for p in seconds.phases) or "none: the run has no plan phases"
        raise UsageError(
            f"unknown phase {phase!r}; the phases of this run: {known}", flag="--phase", value=phase
        )
    inside = np.array([seconds.phase_of(int(t)) == phase for t in times], dtype=bool)
    if not inside.any():
        raise UsageError(
            f"phase {phase!r} holds no whole counted second of the run (the run ended or was "
            "paused before it, or it is shorter than a second)",
            flag="--phase",
            value=phase,
        )
    return inside


def _endpoints(
    seconds: RunSeconds, patterns: Sequence[str] | None
) -> tuple[list[tuple[str, str]], bool]:
    """The endpoints the globs pick (all without globs), and whether that is every one."""
    endpoints = seconds.columns.endpoints()
    if not endpoints:
        raise UsageError(
            f"run {seconds.record.run_id or seconds.path} recorded no request", flag="RUN"
        )
    if not patterns:
        return endpoints, True
    chosen = [
        (m, n)
        for m, n in endpoints
        if any(
            fnmatch.fnmatchcase(endpoint_key(m, n), p) or fnmatch.fnmatchcase(n, p)
            for p in patterns
        )
    ]
    if not chosen:
        known = ", ".join(repr(endpoint_key(m, n)) for m, n in endpoints[:20])
        more = f" and {len(endpoints) - 20} more" if len(endpoints) > 20 else ""
        raise UsageError(
            f"--name {' '.join(map(repr, patterns))} matches no request name of this run; "
            f"its names: {known}{more}",
            flag="--name",
            value=",".join(patterns),
        )
    return chosen, len(chosen) == len(endpoints)


def _second_groups(
    seconds: RunSeconds,
    times: np.ndarray,
    rows: np.ndarray,
    by: Sequence[str],
    every_s: int | None,
) -> dict[tuple[Any, ...], list[int]]:
    """The selected rows by ``(interval, phase, fault)`` label, groups in order of their
    first second, rows ascending in each."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    first = int(times[rows[0]])
    for row in rows.tolist():
        t = int(times[row])
        label = (
            (t - first) // every_s if every_s else None,
            seconds.phase_of(t) if "phase" in by else None,
            seconds.fault_of(t) if "fault" in by else None,
        )
        groups.setdefault(label, []).append(row)
    return groups


def _figures(
    seconds: RunSeconds,
    times: np.ndarray,
    rows: list[int],
    key: str | None,
    among: list[str] | None,
    metrics: Sequence[str],
    confidence: float,
) -> dict[str, float]:
    """The metrics of one name (``key``; None: all names, or those ``among``) over the
    seconds at ``rows``, estimated as the report estimates a window."""
    parts = [
        window_series(seconds.columns, key, lo, hi, among=among) for lo, hi in _spans(times, rows)
    ]
    counters, histograms = _joined(parts)
    count = int(counters.count.sum())
    found: Mapping[str, Estimate] = {}
    wanted = [KEY_METRICS.index(_ESTIMATED[m]) for m in metrics if m in _ESTIMATED]
    if count and wanted:
        intervals = estimator_columns(counters, histograms)
        sums = HistogramSums(intervals, batches=DEFAULT_BATCHES)
        # the key metrics in the report's order, up to the last one asked for: a short
        # group's block bootstrap then draws what the report's draws, to the last digit
        needed = KEY_METRICS[: max(wanted) + 1]
        found = estimates(intervals, needed, confidence=confidence, sums=sums)
    out: dict[str, float] = {}
    for metric in metrics:
        scale = 1 / 1000 if metric in _LATENCY else 1.0
        if metric == "count":
            out["count"] = count
        elif metric == "max":
            whole = histograms.total()
            out["max"] = whole.get_max_value() * scale if whole.get_total_count() else math.nan
        else:
            est = found.get(_ESTIMATED[metric])
            value = est.value if est is not None else (0.0 if metric == "rps" else math.nan)
            low = est.low if est is not None else math.nan
            high = est.high if est is not None else math.nan
            out[metric] = _finite(value) * scale
            out[f"{metric}_low"] = _finite(low) * scale
            out[f"{metric}_high"] = _finite(high) * scale
    return out


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else math.nan


def _spans(times: np.ndarray, rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive rows as ``[first second, last second + 1)`` spans of time."""
    spans = []
    begin = previous = rows[0]
    for row in rows[1:]:
        if row != previous + 1:
            spans.append((int(times[begin]), int(times[previous]) + 1))
            begin = row
        previous = row
    spans.append((int(times[begin]), int(times[previous]) + 1))
    return spans


def _joined(
    parts: Sequence[tuple[SecondCounters, BucketRows]],
) -> tuple[SecondCounters, BucketRows]:
    """Several stretches' counters and histograms, end to end."""
    if len(parts) == 1:
        return parts[0]
    counters = [c for c, _ in parts]
    joined: dict[str, Any] = {}
    for f in dataclasses.fields(SecondCounters):
        values = [getattr(c, f.name) for c in counters]
        if f.name == "failures_by_kind":
            kinds = sorted({k for v in values for k in v})
            pairs = list(zip(values, counters, strict=True))
            joined[f.name] = {
                k: np.concatenate([v.get(k, np.zeros(len(c), dtype=np.int64)) for v, c in pairs])
                for k in kinds
            }
        elif any(v is None for v in values):
            joined[f.name] = None
        else:
            joined[f.name] = np.concatenate(values)
    return SecondCounters(**joined), _joined_rows([r for _, r in parts])


def _joined_rows(parts: Iterable[BucketRows]) -> BucketRows:
    found = list(parts)
    offsets = np.cumsum([0, *(int(r.indptr[-1]) for r in found)])
    indptr = np.concatenate(
        [*(r.indptr[:-1] + o for r, o in zip(found, offsets, strict=False)), offsets[-1:]]
    )
    layout = next((r.layout for r in found if r.index.size), found[0].layout)
    return BucketRows(
        indptr.astype(np.int64),
        np.concatenate([r.index for r in found]),
        np.concatenate([r.counts for r in found]),
        layout,
    )
