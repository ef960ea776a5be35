"""Running figures of a live run's open-model arrivals, per load group.

An open model starts arrivals at a rate whatever the target does; whoever watches the run
needs to see whether the load generators kept that schedule. Each closed second of the
merged timeline carries, per open load group, the arrivals *due* in it (``Second.arrivals``:
due, started, dropped, and the started ones' schedule lag as a histogram) and the arrivals
in flight (``Second.active``). ``ArrivalStatistics`` adds them up for the run so far and
keeps the last ``recent_s`` counted seconds apart, so every live view reads the same
figures (design contract 7): arrivals due / started / dropped, the achieved arrival rate,
the lag p50 / p99 and the arrivals in flight.

Arrivals belong to the second they were due in, so one that started after its second was
closed comes later, as a correction (``add_late``): it is added into the run so far, and
into its second's row while that second is still among the recent ones. Memory stays
bounded: one dense lag histogram per group, ``recent_s`` sparse rows.

    >>> from framework.timeline.records import ArrivalSecond, Second
    >>> stats = ArrivalStatistics(recent_s=10)
    >>> a = ArrivalSecond.from_lags(100, "writers", [1.0, 3.0], dropped=1, in_flight_max=2)
    >>> stats.add_second(Second(t=100, arrivals=(a,), active={"writers": 2}))
    >>> f = stats.figures("writers")
    >>> f.due, f.started, f.dropped, f.rate, f.in_flight, f.lag_p99_ms
    (3, 2, 1, 2.0, 2, 3.001)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from framework.plan.groups import LoadSchedule
from framework.plan.rates import RatePlan
from framework.timeline.codec import LAYOUT, sum_blobs
from framework.timeline.histograms import SparseHistogram, percentiles_us
from framework.timeline.records import ArrivalSecond, Second

__all__ = ["ArrivalFigures", "ArrivalStatistics", "GroupArrivals", "open_rates", "planned_rate"]

_LEVELS = (50.0, 99.0, 100.0)
_EMPTY = np.zeros(0, np.int64)


@dataclass(frozen=True)
class ArrivalFigures:
    """One load group's arrivals over ``seconds`` counted seconds (the run so far, or the
    last few); lags in ms, ``None`` while no arrival has started.

    ``in_flight`` is the group's arrivals in flight in the latest second in (``sec.active``,
    summed over the load generators; ``None`` when not reported), ``in_flight_max`` the most
    in one second of the range (the workers' maxima added: an upper bound).
    """

    group: str
    seconds: int
    due: int
    started: int
    dropped: int
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    lag_max_ms: float | None
    in_flight: int | None
    in_flight_max: int

    @property
    def rate(self) -> float:
        """Achieved arrivals per second: the started ones over the seconds covered."""
        return self.started / self.seconds if self.seconds else 0.0

    @property
    def due_rate(self) -> float:
        """Arrivals per second the schedule placed in the seconds covered."""
        return self.due / self.seconds if self.seconds else 0.0

    @property
    def dropped_fraction(self) -> float | None:
        """Dropped over due arrivals; ``None`` when none was due."""
        return self.dropped / self.due if self.due else None


@dataclass(frozen=True)
class GroupArrivals:
    """What a live view shows of one open load group: the schedule's arrival rate over the
    recent seconds (``None`` without the group's plan, or before the plan began), the
    figures of those seconds and of the run so far."""

    group: str
    planned_rate: float | None
    recent: ArrivalFigures
    run: ArrivalFigures

    @property
    def behind(self) -> bool:
        """Whether the recent seconds started fewer arrivals than the plan asked, by more
        than one arrival a second and 5 %: the generator does not keep its schedule."""
        if self.planned_rate is None or not self.recent.seconds:
            return False
        short = self.planned_rate - self.recent.rate
        return short > 1.0 and short > 0.05 * self.planned_rate


class _Row:
    """One second of one group: its counts and its lag histogram's non-empty buckets."""

    __slots__ = ("counts", "dropped", "due", "in_flight_max", "index", "started", "t")

    def __init__(self, t: int) -> None:
        self.t = t
        self.due = self.started = self.dropped = self.in_flight_max = 0
        self.index = _EMPTY
        self.counts = _EMPTY

    def add(self, record: ArrivalSecond, lags: SparseHistogram | None) -> None:
        self.due += record.due
        self.started += record.started
        self.dropped += record.dropped
        self.in_flight_max += record.in_flight_max  # simultaneous: as the merger adds them
        if lags is not None and lags.total:
            index = np.concatenate([self.index, lags.index.astype(np.int64)])
            counts = np.concatenate([self.counts, lags.counts_nonzero.astype(np.int64)])
            self.index, where = np.unique(index, return_inverse=True)
            self.counts = np.bincount(where, weights=counts).astype(np.int64)


class _Group:
    """A group's run so far (dense lag histogram) and its last ``recent_s`` rows."""

    def __init__(self, recent_s: int) -> None:
        self.recent: deque[_Row] = deque(maxlen=recent_s)
        self.due = self.started = self.dropped = self.in_flight_max = 0
        self.lags = np.zeros(LAYOUT.counts_len, np.int64)

    def add(self, row: _Row, record: ArrivalSecond, lags: SparseHistogram | None) -> None:
        row.add(record, lags)
        self.due += record.due
        self.started += record.started
        self.dropped += record.dropped
        self.in_flight_max = max(self.in_flight_max, row.in_flight_max)
        if lags is not None and lags.total:
            self.lags[lags.index] += lags.counts_nonzero


class ArrivalStatistics:
    """Per load group, the arrivals of the seconds fed so far (see the module docstring)."""

    def __init__(self, *, recent_s: int = 30) -> None:
        if recent_s < 1:
            raise ValueError(f"recent_s must be >= 1, got {recent_s}")
        self.recent_s = recent_s
        self.seconds = 0
        self.active: Mapping[str, int] = {}
        self._groups: dict[str, _Group] = {}

    def __repr__(self) -> str:
        return f"ArrivalStatistics(groups={self.groups()}, seconds={self.seconds})"

    def groups(self) -> list[str]:
        """The open load groups seen so far, sorted."""
        return sorted(self._groups)

    def add_second(self, second: Second, *, counted: bool = True) -> None:
        """Take one closed second: its ``active`` always (the latest load), its arrivals
        only when ``counted`` (a paused second is in no figure)."""
        if second.active:
            self.active = dict(second.active)
        if not counted:
            return
        self.seconds += 1
        for group in self._groups.values():
            group.recent.append(_Row(second.t))
        for record in second.arrivals:
            group = self._group(record.group, second.t)
            group.add(group.recent[-1], record, _lags(record))

    def add_late(self, record: ArrivalSecond) -> None:
        """Arrivals due in a second already in (a correction): into the run so far, and
        into that second's row while it is among the recent ones."""
        group = self._group(record.group, None)
        row = next((r for r in reversed(group.recent) if r.t == record.t), None)
        group.add(row if row is not None else _Row(record.t), record, _lags(record))

    def figures(self, group: str, *, window_s: int | None = None) -> ArrivalFigures:
        """``group``'s figures over the run so far, or its last ``window_s`` counted seconds
        (at most ``recent_s``)."""
        found = self._groups.get(group)
        in_flight = self.active.get(group)
        if found is None:
            return ArrivalFigures(group, 0, 0, 0, 0, None, None, None, in_flight, 0)
        if window_s is None:
            nonzero = np.flatnonzero(found.lags)
            lags = SparseHistogram(nonzero, found.lags[nonzero], LAYOUT)
            return _figures(
                group,
                self.seconds,
                (found.due, found.started, found.dropped, found.in_flight_max),
                lags,
                in_flight,
            )
        rows = list(found.recent)[-window_s:] if window_s > 0 else []
        index = np.concatenate([_EMPTY, *(r.index for r in rows)])
        counts = np.concatenate([_EMPTY, *(r.counts for r in rows)])
        summed = np.bincount(index, weights=counts).astype(np.int64) if index.size else _EMPTY
        nonzero = np.flatnonzero(summed)
        totals = (
            sum(r.due for r in rows),
            sum(r.started for r in rows),
            sum(r.dropped for r in rows),
            max((r.in_flight_max for r in rows), default=0),
        )
        lags = SparseHistogram(nonzero, summed[nonzero], LAYOUT)
        return _figures(group, len(rows), totals, lags, in_flight)

    def _group(self, name: str, t: int | None) -> _Group:
        """The group ``name``, made with a row for each counted second so far (empty ones
        before it appeared: they are time too) when it is new."""
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = _Group(self.recent_s)
            for _ in range(min(self.seconds, self.recent_s)):
                group.recent.append(_Row(-1))
            if t is not None and group.recent:
                group.recent[-1].t = t
        return group


def _lags(record: ArrivalSecond) -> SparseHistogram | None:
    blobs = [b for b in record.lag_hist_blobs if b]
    return sum_blobs(blobs) if blobs else None


def _figures(
    group: str,
    seconds: int,
    totals: tuple[int, int, int, int],
    lags: SparseHistogram,
    in_flight: int | None,
) -> ArrivalFigures:
    due, started, dropped, peak = totals
    p50 = p99 = top = None
    if lags.total:
        p50, p99, top = (None if v is None else v / 1000 for v in percentiles_us(lags, _LEVELS))
    return ArrivalFigures(group, seconds, due, started, dropped, p50, p99, top, in_flight, peak)


def open_rates(schedule: LoadSchedule | None) -> dict[str, RatePlan]:
    """The rate plan of each open group of ``schedule`` (none without one): what the live
    views compare the achieved arrival rate with."""
    if schedule is None:
        return {}
    return {g.name: g.plan for g in schedule.groups if isinstance(g.plan, RatePlan)}


def planned_rate(plan: RatePlan, *, end_s: float, seconds: float) -> float | None:
    """The mean arrivals per second ``plan`` lays out over the ``seconds`` of plan time up to
    ``end_s``; ``None`` before the plan began or for an empty window.

    Time before the plan's start and after its end counts as time with nothing due, as the
    achieved rate counts every second of its window: the two stay comparable at both ends.

        >>> from framework.plan.rates import stages
        >>> plan = stages(stages=[(10, 20.0, 0), (10, 40.0, 0)])
        >>> planned_rate(plan, end_s=15.0, seconds=10), planned_rate(plan, end_s=25.0, seconds=10)
        (30.0, 20.0)
    """
    if seconds <= 0 or end_s <= 0:
        return None
    return plan.expected_arrivals(max(0.0, end_s - seconds), end_s) / seconds
