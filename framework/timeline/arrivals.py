"""Open-model arrivals in one second: how many were due, started and dropped, and how late.

An open model (``load: {model: open}``) starts requests at a rate, whatever the target
does; a load generator that falls behind its schedule would hide exactly the slowness an
open model exists to show. So every second and load group, the timeline counts the
arrivals that were *due* in it, how many started and how many could not (``max_in_flight``
reached: dropped, never silently), and the schedule lag of the started ones (actual start
minus due, µs) as exact sums plus an HdrHistogram. The ``arr`` line of
``docs/timeline.md`` is its on-disk form.

    >>> a = ArrivalSecond.from_lags(100, "writers", [0.2, 0.4], dropped=1, in_flight_max=3)
    >>> b = ArrivalSecond.from_lags(100, "writers", [0.3], in_flight_max=2)
    >>> ab = a.combine(b)
    >>> ab.due, ab.started, ab.dropped, ab.in_flight_max, ab.lag_histogram().get_total_count()
    (4, 3, 1, 5, 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from hdrh.histogram import HdrHistogram

from framework.timeline.codec import (
    HISTOGRAM_HIGHEST_US,
    encode_histogram,
    new_histogram,
    one_blob,
    sum_blobs,
)

__all__ = ["ALL_GROUPS", "ArrivalRecord", "ArrivalSecond", "added_arrivals"]

ALL_GROUPS = "all groups"
"""The ``group`` of an ``ArrivalSecond`` that adds several load groups together."""


class ArrivalRecord(TypedDict):
    """One load group's arrivals due in one second: the wire payload and the ``arr`` line.

    Workers send these inside their report (msgpack-able: str, int, float, dict, list); the
    master writes them with ``"type": "arr"``.
    """

    t: int  # unix second in which the arrivals were due (the worker's clock)
    group: str  # the load group: a users entry with its own load, or "scenario"
    due: int  # arrivals due in the second: started + dropped
    started: int  # arrivals that started (a request went out)
    dropped: int  # arrivals that could not start (no free slot under max_in_flight)
    lag_sum_us: int  # exact sum of the started arrivals' lag (actual start - due), µs
    lag_sumsq_us: int | float  # exact sum of their squares (float only past 2**63)
    lag_hist: str  # HdrHistogram V2 of the lags, compressed, base64 ("" when none started)
    in_flight_max: int  # most arrivals in flight at once (summed over workers: upper bound)
    type: NotRequired[str]  # "arr" on disk; absent on the wire
    late: NotRequired[bool]  # on disk: a correction for a second already written


@dataclass(frozen=True)
class ArrivalSecond:
    """The arrivals of one load group due in one second (or, from
    ``Timeline.arrivals_total``, a range of seconds and possibly several groups).

    ``due = started + dropped``. The lag fields hold the started arrivals' schedule lag
    (actual start − due, µs, never negative): exact sums for mean and variance, the
    histogram for percentiles. ``in_flight_max`` is the most arrivals in flight at once
    that a load generator saw in the second; across workers the master adds their maxima,
    which is an **upper bound** of the cluster's peak (the workers' peaks need not
    coincide), and across seconds ``Timeline.arrivals_total`` takes the largest.
    """

    t: int
    group: str
    due: int = 0
    started: int = 0
    dropped: int = 0
    lag_sum_us: int = 0
    lag_sumsq_us: int | float = 0
    lag_hist_blobs: tuple[str, ...] = ()
    in_flight_max: int = 0

    @property
    def lag_mean_us(self) -> float | None:
        """Exact mean schedule lag of the started arrivals in µs; ``None`` without any."""
        return self.lag_sum_us / self.started if self.started else None

    @property
    def dropped_fraction(self) -> float | None:
        """Dropped arrivals over due ones; ``None`` when none was due."""
        return self.dropped / self.due if self.due else None

    def lag_histogram(self) -> HdrHistogram:
        """A fresh HdrHistogram (µs) of the started arrivals' lags; decodes on each call."""
        if not self.lag_hist_blobs:
            return new_histogram()
        return sum_blobs(self.lag_hist_blobs).to_hdrhistogram()

    def combine(self, other: ArrivalSecond) -> ArrivalSecond:
        """Add another load generator's arrivals of the same second (and group) to these.

        Counts and lag sums add; ``in_flight_max`` adds too (the sum of the generators'
        maxima: an upper bound of their joint peak). Keeps this record's ``t`` and group.
        """
        return ArrivalSecond(
            t=self.t,
            group=self.group,
            due=self.due + other.due,
            started=self.started + other.started,
            dropped=self.dropped + other.dropped,
            lag_sum_us=self.lag_sum_us + other.lag_sum_us,
            lag_sumsq_us=self.lag_sumsq_us + other.lag_sumsq_us,
            lag_hist_blobs=self.lag_hist_blobs + other.lag_hist_blobs,
            in_flight_max=self.in_flight_max + other.in_flight_max,
        )

    def to_record(self) -> ArrivalRecord:
        """The line/wire form; several lag histograms are merged into one blob first."""
        return ArrivalRecord(
            t=self.t,
            group=self.group,
            due=self.due,
            started=self.started,
            dropped=self.dropped,
            lag_sum_us=self.lag_sum_us,
            lag_sumsq_us=self.lag_sumsq_us,
            lag_hist=one_blob(self.lag_hist_blobs),
            in_flight_max=self.in_flight_max,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ArrivalSecond:
        """A record from its line/wire form (checked beforehand: ``validation``)."""
        hist = record.get("lag_hist") or ""
        started = int(record.get("started", 0))
        dropped = int(record.get("dropped", 0))
        return cls(
            t=int(record["t"]),
            group=str(record["group"]),
            due=int(record.get("due", started + dropped)),
            started=started,
            dropped=dropped,
            lag_sum_us=int(record.get("lag_sum_us", 0)),
            lag_sumsq_us=record.get("lag_sumsq_us", 0),
            lag_hist_blobs=(hist,) if hist else (),
            in_flight_max=int(record.get("in_flight_max", 0)),
        )

    @classmethod
    def from_lags(
        cls,
        t: int,
        group: str,
        lags_ms: Iterable[float],
        *,
        dropped: int = 0,
        in_flight_max: int = 0,
    ) -> ArrivalSecond:
        """Build a record from raw lags (ms, one per started arrival), for synthetic
        timelines in tests and benchmarks."""
        hist = new_histogram()
        started = lag_sum = lag_sumsq = 0
        for ms in lags_ms:
            us = max(0, round(ms * 1000.0))
            hist.record_value(min(us, HISTOGRAM_HIGHEST_US))
            started += 1
            lag_sum += us
            lag_sumsq += us * us
        blobs = (encode_histogram(hist, release=True),) if started else ()
        return cls(
            t=t, group=group, due=started + dropped, started=started, dropped=dropped,
            lag_sum_us=lag_sum, lag_sumsq_us=lag_sumsq, lag_hist_blobs=blobs,
            in_flight_max=in_flight_max,
        )  # fmt: skip


def added_arrivals(t: int, group: str, seconds: Iterable[Iterable[ArrivalSecond]]) -> ArrivalSecond:
    """The arrivals of several seconds added up, ``in_flight_max`` the largest second's.

    Each item of ``seconds`` is one second's records (one per group, the groups selected):
    within a second they are simultaneous, so their ``in_flight_max`` add; across seconds
    the peak is the largest of the seconds'.
    """
    due = started = dropped = lag_sum = peak = 0
    lag_sumsq: int | float = 0
    blobs: list[str] = []
    for records in seconds:
        in_second = 0
        for a in records:
            due += a.due
            started += a.started
            dropped += a.dropped
            lag_sum += a.lag_sum_us
            lag_sumsq += a.lag_sumsq_us
            blobs += a.lag_hist_blobs
            in_second += a.in_flight_max
        peak = max(peak, in_second)
    return ArrivalSecond(
        t=t, group=group, due=due, started=started, dropped=dropped, lag_sum_us=lag_sum,
        lag_sumsq_us=lag_sumsq, lag_hist_blobs=tuple(blobs), in_flight_max=peak,
    )  # fmt: skip
