"""Scheduled faults judged: the figures during each fault, the baseline before it, and how
long the service took to recover after it, against the fault's ``recovery_sla``.

A fault (``run.json`` ``faults``, written as the run applies them) is a stretch of the run
in which a dependency was broken on purpose. What matters to a user is what the service
did meanwhile (error rate, latency, throughput: ``during``) and how long after the fault
ended it was back to normal. "Normal" is the pre-fault baseline (``before``): the last
``BASELINE_MAX_S`` seconds before the fault, never before the end of the warm-up, and never
inside an earlier fault or its recovery. Recovery is read at the timeline's own resolution,
one second, so it is given as an interval and judged by it:

- a sliding window of ``RECOVERY_WINDOW_S`` seconds (all requests together, pooled) moves
  second by second from the first whole second after the fault's end;
- the window is *within the baseline* when its error rate and its p95 are each at most the
  baseline's upper limit: the larger of the baseline figure's confidence-interval high and
  the ``confidence`` quantile of the same window statistic over the baseline's own
  ``RECOVERY_WINDOW_S``-second windows (how high a healthy window reaches by chance). Only
  the upper side counts: a service faster than before has recovered;
- the recovery time is from the fault's end to the start of the first window within the
  baseline; its interval runs from one second earlier (that window was still outside:
  the data cannot place the recovery earlier) to the end of the seconds opening that first
  good window that are, each on its own, beyond what the baseline's single seconds reached
  (the pooling could hide them: the latest the data cannot exclude), clipped at 0;
- no window within the baseline before the data ends (or before the next fault starts)
  is "not recovered", with a lower bound: it took longer than the last window examined.

The SLA verdict reads that interval: ``pass`` when its high end is within the SLA,
``fail`` when its low end (or a lower bound, not recovered) already reaches the SLA,
``inconclusive`` otherwise, and whenever recovery could not be measured (no baseline,
too little data after the fault, another fault in force).

    >>> fault_verdict(Figure(0.4, 0.0, 0.4), 2.0)
    'pass'
    >>> fault_verdict(Figure(5.0, 4.0, 5.0), 2.0)
    'fail'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from framework.timeline.columns import TimelineColumns
from framework.timeline.histograms import percentiles_us
from framework.timeline.records import Timeline
from framework.verdicts.analysis import (
    AnalysisSettings,
    PlannedWindow,
    analyse_window,
    iso_seconds,
)
from framework.verdicts.results import EndpointResult, Figure

__all__ = [
    "BASELINE_MAX_S",
    "MIN_BASELINE_S",
    "RECOVERY_WINDOW_S",
    "FaultFigures",
    "FaultResult",
    "FaultVerdict",
    "fault_results",
    "fault_verdict",
]

RECOVERY_WINDOW_S = 3
"""Seconds pooled per recovery window: one second's p95 of a few requests is too noisy to
call a recovery on, three seconds' is steady enough and still close to the timeline's
resolution."""

BASELINE_MAX_S = 60
"""The pre-fault baseline is at most the last minute before the fault: close enough in time
to show the state the service should return to (the load then), long enough for intervals."""

MIN_BASELINE_S = 5
"""Fewer clean seconds with requests before a fault are no baseline to recover to."""

FaultVerdict = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class FaultFigures:
    """All requests together over one stretch around a fault, each figure with its
    interval (``[start_s, end_s)``, unix seconds); ``None`` figures: too little data."""

    start_s: float
    end_s: float
    requests: int
    failures: int
    error_rate: Figure
    p50_ms: Figure
    p95_ms: Figure
    throughput_rps: Figure

    @classmethod
    def of(cls, start_s: float, end_s: float, overall: EndpointResult) -> FaultFigures:
        """The figures of a window's ``overall`` result."""
        return cls(
            start_s=start_s,
            end_s=end_s,
            requests=overall.count,
            failures=overall.failures,
            error_rate=overall.error_rate,
            p50_ms=overall.median_ms,
            p95_ms=overall.p95_ms,
            throughput_rps=overall.throughput_rps,
        )


@dataclass(frozen=True)
class FaultResult:
    """One scheduled fault, analysed.

    ``start_s``/``end_s`` are when it was actually in force (unix seconds; ``None`` when it
    never took effect). ``during`` and ``before`` (the pre-fault baseline) are ``None`` when
    there was no such stretch. ``recovery_s`` is the recovery time with its interval
    (``Figure(value, low, high)``, seconds after ``end_s``); ``None`` with ``recovered``
    false when no window got back within the baseline. ``measured`` is false when recovery
    could not be measured at all (no baseline, too little data after the fault, another
    fault in force); ``message`` says which. ``error_rate_limit`` and ``p95_limit_ms`` are
    the baseline's upper limits a window had to be back within; ``recovered_after_s`` is,
    when not recovered, how long after the end the last window examined still was not.
    ``verdict`` judges ``recovery_s`` against ``recovery_sla_s`` (``None``: no SLA).
    """

    name: str
    kind: str
    start_s: float | None
    end_s: float | None
    status: str
    during: FaultFigures | None
    before: FaultFigures | None
    recovery_s: Figure | None
    recovered: bool
    recovery_sla_s: float | None
    verdict: FaultVerdict | None
    message: str
    measured: bool = True
    error_rate_limit: float | None = None
    p95_limit_ms: float | None = None
    not_recovered_after_s: float | None = None
    target: str = ""
    window_s: int = RECOVERY_WINDOW_S


def fault_verdict(
    recovery: Figure | None, sla_s: float | None, *, not_recovered_after_s: float | None = None
) -> FaultVerdict | None:
    """``recovery`` (its interval) against ``sla_s``: ``pass`` when even its high end is
    within, ``fail`` when its low end already reaches it (or, not recovered, when the time
    known to have passed without recovery does), else ``inconclusive``; ``None`` without SLA.
    """
    if sla_s is None:
        return None
    if recovery is None or recovery.value is None:
        if not_recovered_after_s is not None and not_recovered_after_s >= sla_s:
            return "fail"
        return "inconclusive"
    low = recovery.low if recovery.low is not None else recovery.value
    high = recovery.high if recovery.high is not None else recovery.value
    if high <= sla_s:
        return "pass"
    if low >= sla_s and low > 0:
        return "fail"
    return "inconclusive"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class _Fault:
    index: int
    name: str
    kind: str
    target: str
    status: str
    error: str
    sla_s: float | None
    start_s: float | None
    end_s: float | None  # None: in force when the record was written

    @classmethod
    def read(cls, index: int, entry: Mapping[str, Any]) -> _Fault:
        return cls(
            index=index,
            name=str(entry.get("name") or f"fault-{index + 1}"),
            kind=str(entry.get("kind") or ""),
            target=str(entry.get("target") or ""),
            status=str(entry.get("status") or ""),
            error=str(entry.get("error") or ""),
            sla_s=_number(entry.get("recovery_sla_s")),
            start_s=iso_seconds(entry.get("started_at")),
            end_s=iso_seconds(entry.get("ended_at")),
        )


class _Seconds:
    """All requests together, second by second, over a range: counts, failures and the
    latency rows, so any run of seconds can be pooled (a missing second, paused or
    without records, holds nothing)."""

    def __init__(self, columns: TimelineColumns, start_s: int, end_s: int) -> None:
        self.start_s, self.end_s = start_s, max(start_s, end_s)
        counters = columns.counters(None, start_s, end_s)
        self.rows = columns.buckets(None, start_s, end_s)
        self.t = counters.t
        self.count = counters.count
        self.failures = counters.failures

    def pooled(self, start_s: int, end_s: int) -> tuple[int, float | None, float | None]:
        """``(requests, error rate, p95 ms)`` of the seconds in ``[start_s, end_s)``."""
        lo, hi = (int(i) for i in np.searchsorted(self.t, (start_s, end_s)))
        count = int(self.count[lo:hi].sum())
        if not count:
            return 0, None, None
        rate = float(self.failures[lo:hi].sum()) / count
        p95 = percentiles_us(self.rows.slice(lo, hi).total(), (95,))[0] if hi > lo else None
        return count, rate, (p95 / 1000 if p95 is not None else None)


def _within(
    found: tuple[int, float | None, float | None], error_limit: float, p95_limit: float
) -> bool:
    count, rate, p95 = found
    if not count or rate is None or rate > error_limit:
        return False
    return p95 is not None and p95 <= p95_limit


def _limit(figure: Figure, values: Sequence[float], confidence: float) -> float | None:
    """The baseline's upper limit: its interval's high end, or higher where healthy
    windows of the baseline itself reached higher (at the ``confidence`` quantile)."""
    candidates = [figure.high if figure.high is not None else figure.value]
    if values:
        candidates.append(float(np.quantile(values, confidence, method="higher")))
    found = [c for c in candidates if c is not None]
    return max(found) if found else None


def _limits(
    base: _Seconds, before: FaultFigures, width: int, confidence: float
) -> tuple[float | None, float | None]:
    """The baseline's upper limits of error rate and p95 for ``width``-second windows."""
    rates, p95s = [], []
    for s in range(base.start_s, base.end_s - width + 1):
        count, rate, p95 = base.pooled(s, s + width)
        if count and rate is not None:
            rates.append(rate)
        if p95 is not None:
            p95s.append(p95)
    return (
        _limit(before.error_rate, rates, confidence),
        _limit(before.p95_ms, p95s, confidence),
    )


def _window_figures(
    columns: TimelineColumns, settings: AnalysisSettings, name: str, start_s: int, end_s: int
) -> FaultFigures:
    window = PlannedWindow(name, start_s, max(start_s, end_s), None)
    overall = analyse_window(columns.timeline, window, settings, columns=columns).window.overall
    return FaultFigures.of(float(start_s), float(max(start_s, end_s)), overall)


def _baseline_span(
    start_s: float, earliest_s: float, blocked: Sequence[tuple[float, float]]
) -> tuple[int, int]:
    """The latest stretch of whole seconds before ``start_s``, after ``earliest_s`` and
    clear of every ``blocked`` span (earlier faults and their recoveries), at most
    ``BASELINE_MAX_S`` long, as ``[lo, hi)``."""
    hi = math.floor(start_s)
    moved = True
    while moved:  # a span reaching into the stretch's last second moves its end before it
        moved = False
        for a, b in blocked:
            if a < hi and b > hi - 1 and math.floor(a) < hi:
                hi, moved = math.floor(a), True
    lo = max(
        [math.ceil(earliest_s), hi - BASELINE_MAX_S] + [math.ceil(b) for a, b in blocked if a < hi]
    )
    return lo, max(lo, hi)


def fault_results(
    faults: Sequence[Any],
    timeline: Timeline,
    *,
    columns: TimelineColumns,
    settings: AnalysisSettings,
    earliest_s: float,
) -> tuple[FaultResult, ...]:
    """Every fault of ``run.json`` (``faults``) analysed, in the order given.

    ``earliest_s`` is where a baseline may begin (the end of the warm-up: the steady
    window's start). Entries that are not objects are skipped.
    """
    read = [_Fault.read(i, f) for i, f in enumerate(faults) if isinstance(f, Mapping)]
    observed_end = (timeline.end_s or 0) - 1  # the last second is cut short by the stop
    done: dict[int, FaultResult] = {}
    for fault in sorted(read, key=lambda f: (f.start_s is None, f.start_s or 0.0, f.index)):
        done[fault.index] = _analyse(fault, read, done, columns, settings, earliest_s, observed_end)
    return tuple(done[f.index] for f in read)


def _never(fault: _Fault) -> FaultResult:
    why = f"the fault never took effect (status {fault.status or 'unknown'}"
    why += f": {fault.error})" if fault.error else ")"
    return FaultResult(
        name=fault.name, kind=fault.kind, start_s=None, end_s=None, status=fault.status,
        during=None, before=None, recovery_s=None, recovered=False,
        recovery_sla_s=fault.sla_s, verdict="inconclusive" if fault.sla_s is not None else None,
        message=why + "; its recovery cannot be measured", measured=False, target=fault.target,
    )  # fmt: skip


def _analyse(
    fault: _Fault,
    faults: Sequence[_Fault],
    done: Mapping[int, FaultResult],
    columns: TimelineColumns,
    settings: AnalysisSettings,
    earliest_s: float,
    observed_end: int,
) -> FaultResult:
    if fault.start_s is None:
        return _never(fault)
    start = fault.start_s
    end = fault.end_s if fault.end_s is not None else float(max(observed_end, math.ceil(start)))
    during = _window_figures(columns, settings, "during", math.ceil(start), math.floor(end))
    others = [f for f in faults if f is not fault and f.start_s is not None]
    blocked = []
    for other in others:
        result = done.get(other.index)
        if result is None or other.start_s is None or other.start_s >= start:
            continue
        other_end = other.end_s if other.end_s is not None else math.inf
        if result.recovered and result.recovery_s is not None:
            blocked.append((other.start_s, other_end + (result.recovery_s.high or 0.0)))
        elif result.measured:  # seen not back to its baseline: nothing after it is clean
            blocked.append((other.start_s, math.inf))
        else:  # no evidence either way: its span and one recovery window
            blocked.append((other.start_s, other_end + RECOVERY_WINDOW_S))
    lo, hi = _baseline_span(start, earliest_s, blocked)
    base = _Seconds(columns, lo, hi)
    seconds_with_data = int(np.count_nonzero(base.count))
    before = _window_figures(columns, settings, "before", lo, hi) if hi > lo else None
    common = dict(
        name=fault.name, kind=fault.kind, start_s=start, end_s=end, status=fault.status,
        during=during, before=before, recovery_sla_s=fault.sla_s, target=fault.target,
    )  # fmt: skip

    def unmeasured(why: str, **more: Any) -> FaultResult:
        verdict = "inconclusive" if fault.sla_s is not None else None
        return FaultResult(**common, recovery_s=None, recovered=False, verdict=verdict,
                           message=why, measured=False, **more)  # fmt: skip

    if before is None or seconds_with_data < MIN_BASELINE_S or before.p95_ms.value is None:
        return unmeasured(
            f"no baseline before the fault: {seconds_with_data} s with requests after the "
            f"warm-up and clear of earlier faults (at least {MIN_BASELINE_S} s needed); "
            "its recovery cannot be measured"
        )
    w = RECOVERY_WINDOW_S
    error_limit, p95_limit = _limits(base, before, w, settings.confidence)
    # what the baseline's single seconds reached: a second "outside on its own" beyond these
    error_second, p95_second = _limits(base, before, 1, settings.confidence)
    if error_limit is None or p95_limit is None or error_second is None or p95_second is None:
        return unmeasured("the baseline before the fault has no error rate or p95 to recover to")
    limits = {"error_rate_limit": error_limit, "p95_limit_ms": p95_limit}

    first = math.ceil(end)
    horizon, stopped_by = observed_end, "the run ended"
    for other in others:
        if other.start_s is None:
            continue
        other_end = other.end_s if other.end_s is not None else math.inf
        if other.start_s <= end < other_end:
            return unmeasured(
                f"fault {other.name} was still in force when this one ended: the recovery of "
                "each cannot be told apart (the one that ends last carries both)",
                **limits,
            )
        if end < other.start_s and math.floor(other.start_s) < horizon:
            horizon, stopped_by = math.floor(other.start_s), f"fault {other.name} began"
    if horizon - first < w:
        return unmeasured(
            f"too little data after the fault's end ({max(0, horizon - first)} s before "
            f"{stopped_by}; a {w} s window is needed): its recovery cannot be measured",
            **limits,
        )
    after = _Seconds(columns, first, horizon)
    found_at = next(
        (s for s in range(first, horizon - w + 1)
         if _within(after.pooled(s, s + w), error_limit, p95_limit)),
        None,
    )  # fmt: skip
    band = f"error rate ≤ {error_limit:.2%} and p95 ≤ {p95_limit:.1f} ms over {w} s windows"
    if found_at is None:
        last = horizon - w
        bound = max(0.0, last - end)
        verdict = fault_verdict(None, fault.sla_s, not_recovered_after_s=bound)
        message = (
            f"not recovered before {stopped_by}: still outside the baseline ({band}) "
            f"{bound:.0f} s after the fault's end"
        )
        return FaultResult(**common, recovery_s=None, recovered=False, verdict=verdict,
                           message=message + _sla_words(verdict, fault.sla_s),
                           not_recovered_after_s=bound, **limits)  # fmt: skip
    value = max(0.0, found_at - end)
    low = max(0.0, found_at - 1 - end) if found_at > first else 0.0
    # the pooling may hide a still-bad first second (or two): the recovery cannot be
    # placed before the end of the seconds opening the window that are outside on their own
    bad_until = found_at
    while bad_until < found_at + w:
        single = after.pooled(bad_until, bad_until + 1)
        if not single[0] or _within(single, error_second, p95_second):
            break
        bad_until += 1
    high = max(value, bad_until - end)
    recovery = Figure(
        value=value, low=low, high=high, confidence=settings.confidence,
        method=f"first {w} s window back within the pre-fault baseline; 1 s resolution",
    )  # fmt: skip
    verdict = fault_verdict(recovery, fault.sla_s)
    message = f"recovered in {value:.1f} s [{low:.1f}, {high:.1f}] ({band})"
    return FaultResult(**common, recovery_s=recovery, recovered=True, verdict=verdict,
                       message=message + _sla_words(verdict, fault.sla_s), **limits)  # fmt: skip


def _sla_words(verdict: FaultVerdict | None, sla_s: float | None) -> str:
    if verdict is None or sla_s is None:
        return ""
    return f"; recovery SLA {sla_s:g} s: {verdict}"
