"""Request counters and latency histograms in shared memory, exposed as Prometheus text.

Why not ``prometheus_client.Counter`` directly: with ``--processes N`` each process
answers part of the traffic on one port, so ``/metrics`` must add up every process
or its counts would not equal the requests sent. Each process writes only to its
own slot of an anonymous shared mapping (no locks: one writer per slot, 8-byte
aligned stores); a scrape sums the slots with numpy and hands the totals to
``prometheus_client`` as metric families, so the exposition format is the
library's own. Writing a counter costs one ``memoryview`` increment, which keeps the
hot path cheap enough for a 0 ms detector.

Exposed per detector:

    mock_detector_requests_total{detector,endpoint,status}        counter
    mock_detector_request_duration_seconds{detector,endpoint}     histogram (arrival to answer)
    mock_detector_in_flight_requests{detector}                    gauge
    mock_detector_active_faults{detector,fault}                   gauge, 1 while a fault kind is on
    mock_detector_fault_remaining_seconds{detector}               gauge

A client that hangs up before its answer is counted with status 499, as nginx does.
"""

from __future__ import annotations

import bisect
import mmap
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

__all__ = [
    "BUCKETS_S",
    "ENDPOINTS",
    "FAULT_KINDS",
    "MetricsBoard",
    "MetricsWriter",
    "render",
]

ENDPOINTS = ("detect", "batch", "health", "metrics", "admin", "other")
"""The ``endpoint`` label values; unknown paths are ``other`` to bound cardinality."""

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
"""Upper bounds of the latency histogram, in seconds (``+Inf`` is added)."""

FAULT_KINDS = ("error_rate", "latency", "timeout", "outage")

_STATUS_LOW, _STATUS_COUNT = 100, 500  # statuses 100..599
_HIST_WIDTH = len(BUCKETS_S) + 2  # per-bucket counts incl. +Inf, then the sum in µs
_COUNTERS = len(ENDPOINTS) * _STATUS_COUNT
_HIST_BASE = _COUNTERS
_IN_FLIGHT = _HIST_BASE + len(ENDPOINTS) * _HIST_WIDTH
_SLOT = _IN_FLIGHT + 1  # int64 values per process


class MetricsWriter:
    """One process's view of its own slot: the only object on the request path."""

    __slots__ = ("_values",)

    def __init__(self, values: memoryview) -> None:
        self._values = values

    def started(self) -> None:
        """A request was read and is now in flight."""
        self._values[_IN_FLIGHT] += 1

    def finished(self, endpoint: int, status: int, seconds: float) -> None:
        """A request was answered (or abandoned, as status 499) after ``seconds``."""
        values = self._values
        values[_IN_FLIGHT] -= 1
        values[endpoint * _STATUS_COUNT + status - _STATUS_LOW] += 1
        base = _HIST_BASE + endpoint * _HIST_WIDTH
        values[base + bisect.bisect_left(BUCKETS_S, seconds)] += 1
        values[base + _HIST_WIDTH - 1] += int(seconds * 1e6)


class MetricsBoard:
    """The counters of one detector across ``processes`` processes.

    Create it before forking; process ``i`` writes through ``writer(i)``, and any
    process can ``totals()`` all of them.
    """

    def __init__(self, processes: int) -> None:
        self._map = mmap.mmap(-1, processes * _SLOT * 8)
        self._processes = processes

    def writer(self, index: int) -> MetricsWriter:
        """The writer for process ``index`` (0-based)."""
        if not 0 <= index < self._processes:
            raise ValueError(f"process index must be in [0, {self._processes}), got {index}")
        whole = memoryview(self._map).cast("q")
        return MetricsWriter(whole[index * _SLOT : (index + 1) * _SLOT])

    def in_flight(self) -> int:
        """Requests read and not yet answered, over every process (``GET /admin/queue``)."""
        values = np.frombuffer(self._map, dtype=np.int64).reshape(self._processes, _SLOT)
        return int(values[:, _IN_FLIGHT].sum())

    def totals(self) -> np.ndarray:
        """Every value summed over the processes (a copy; safe to read at leisure)."""
        values = np.frombuffer(self._map, dtype=np.int64).reshape(self._processes, _SLOT)
        return values.sum(axis=0)


def render(
    boards: Iterable[tuple[str, MetricsBoard]],
    faults: Callable[[str], tuple[list[str], float]],
) -> bytes:
    """Prometheus text for ``(detector, board)`` pairs.

    ``faults(detector)`` returns the active fault kinds and the seconds they have left.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(list(boards), faults))
    return generate_latest(registry)


class _Collector:
    def __init__(
        self,
        boards: list[tuple[str, MetricsBoard]],
        faults: Callable[[str], tuple[list[str], float]],
    ) -> None:
        self._boards = boards
        self._faults = faults

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "mock_detector_requests",
            "Requests answered, by endpoint and HTTP status (499: client hung up first).",
            labels=("detector", "endpoint", "status"),
        )
        duration = HistogramMetricFamily(
            "mock_detector_request_duration_seconds",
            "Time from a request's arrival to its answer, as served.",
            labels=("detector", "endpoint"),
        )
        in_flight = GaugeMetricFamily(
            "mock_detector_in_flight_requests",
            "Requests read and not yet answered.",
            labels=("detector",),
        )
        active = GaugeMetricFamily(
            "mock_detector_active_faults",
            "1 while a fault of this kind is injected through the admin API.",
            labels=("detector", "fault"),
        )
        remaining = GaugeMetricFamily(
            "mock_detector_fault_remaining_seconds",
            "Seconds until the injected fault reverts by itself (0: none).",
            labels=("detector",),
        )
        for name, board in self._boards:
            totals = board.totals()
            for e, endpoint in enumerate(ENDPOINTS):
                counts = totals[e * _STATUS_COUNT : (e + 1) * _STATUS_COUNT]
                for offset in np.flatnonzero(counts):
                    status = str(int(offset) + _STATUS_LOW)
                    requests.add_metric([name, endpoint, status], float(counts[offset]))
                base = _HIST_BASE + e * _HIST_WIDTH
                per_bucket = totals[base : base + len(BUCKETS_S) + 1]
                if not per_bucket.any():
                    continue
                cumulative = np.cumsum(per_bucket)
                bounds = [*(f"{b:g}" for b in BUCKETS_S), "+Inf"]
                duration.add_metric(
                    [name, endpoint],
                    buckets=[(b, float(c)) for b, c in zip(bounds, cumulative, strict=True)],
                    sum_value=float(totals[base + _HIST_WIDTH - 1]) / 1e6,
                )
            in_flight.add_metric([name], float(totals[_IN_FLIGHT]))
            kinds, left_s = self._faults(name)
            for kind in FAULT_KINDS:
                active.add_metric([name, kind], 1.0 if kind in kinds else 0.0)
            remaining.add_metric([name], left_s)
        yield from (requests, duration, in_flight, active, remaining)
