"""The recording API for locustfiles and plugins: counters, gauges, histograms, timers, meters.

Each function returns a handle of one metric and dimension set, cached (calling it again
with the same arguments is cheap and returns the same handle), that records into the
process's ``default_recorder()`` at the current second; the Locust glue ships what it
holds with every worker report, and the master merges it into the timeline's ``met``
lines (``docs/metrics.md``)::

    from framework import counter, gauge, histogram, timer, meter

    counter("detector.batch.items", unit="items", model="fast").add(3)
    gauge("detector.queue.depth", unit="jobs").set(12)
    histogram("detector.score", unit="1", model="fast").record(0.93)
    with timer("detector.parse"):          # ms by default; also @timer(...) and .record(12.5)
        parse(body)
    meter("detector.alerts", unit="alerts").mark()
    histogram("detector.score", unit="1").missing()   # looked for, not found: counted

Names are identifier paths (``detector.queue.depth``), units explicit, dimensions keyword
arguments with text (or integer) values. A metric's kind and unit are fixed by its first
use; a metric has at most ``MAX_DIMENSION_SETS`` dimension sets. Misuse raises
``MetricError`` (a ``ValueError``) naming the metric.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from framework.errors import MetricError
from framework.timeline.metric_recorder import MetricRecorder, default_recorder
from framework.timeline.metric_records import Dims, metric_key

__all__ = [
    "TIMER_UNITS",
    "Counter",
    "Gauge",
    "Histogram",
    "Meter",
    "Timer",
    "counter",
    "gauge",
    "histogram",
    "meter",
    "timer",
]

TIMER_UNITS = {"ms": 1000.0, "s": 1.0, "us": 1_000_000.0}
"""A timer's units, and how many of each make a second."""

P = ParamSpec("P")
R = TypeVar("R")
_time = time.time


class _Handle:
    """One metric and dimension set, registered in a recorder."""

    __slots__ = ("_add", "_number", "_recorder", "_set", "_value", "dims", "name", "unit")
    kind = ""  # each handle class's metric kind

    def __init__(
        self, recorder: MetricRecorder, name: str, unit: str, dims: dict[str, object]
    ) -> None:
        self._recorder = recorder
        self._number = recorder.register(name, self.kind, unit, dims)
        series = recorder.series(self._number)
        # bound once: a value costs one call into the recorder, no attribute chain
        self._value = recorder.record_value
        self._add = recorder.add
        self._set = recorder.set
        self.name: str = series.name
        self.unit: str = series.unit
        self.dims: Dims = series.dims

    @property
    def key(self) -> str:
        """``name{dim=value,...}``, as reports and budgets name it."""
        return metric_key(self.name, self.dims)

    def missing(self) -> None:
        """Count one value that was looked for and not found (counted, never fatal)."""
        self._recorder.record_missing(self._number, _time())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r}, unit={self.unit!r})"


class Counter(_Handle):
    """Counts things (``add(n)``, n >= 0); reported as a total and a rate."""

    __slots__ = ()
    kind = "counter"

    def add(self, n: float = 1) -> None:
        """Add ``n`` (a number >= 0)."""
        self._add(self._number, _time(), n)


class Meter(_Handle):
    """Counts events (``mark(n)``) reported as a rate per second."""

    __slots__ = ()
    kind = "meter"

    def mark(self, n: float = 1) -> None:
        """Mark ``n`` events (a number >= 0)."""
        self._add(self._number, _time(), n)


class Gauge(_Handle):
    """A level (``set(x)``); per second its last, min, max and mean are kept."""

    __slots__ = ()
    kind = "gauge"

    def set(self, value: float) -> None:
        """Set the gauge to ``value`` (any finite number)."""
        self._set(self._number, _time(), value)


class Histogram(_Handle):
    """A distribution of values >= 0 (``record(x)``): mean and percentiles."""

    __slots__ = ()
    kind = "histogram"

    def record(self, value: float) -> None:
        """Record one value (a number >= 0, in the metric's unit)."""
        self._value(self._number, _time(), value)


class Timer(_Handle):
    """A histogram of durations in ``ms`` (default), ``s`` or ``us``.

    As a context manager it times the block (also when it raises); as a decorator it times
    each call (coroutine functions included); ``record(x)`` records a duration measured
    elsewhere. One handle may time blocks in many greenlets or threads at once.
    """

    __slots__ = ("_factor", "_starts")
    kind = "timer"

    def __init__(
        self, recorder: MetricRecorder, name: str, unit: str, dims: dict[str, object]
    ) -> None:
        if unit not in TIMER_UNITS:
            raise MetricError(
                f"metric {name!r}: a timer's unit must be one of {', '.join(TIMER_UNITS)}, "
                f"got {unit!r}",
                metric=name,
            )
        super().__init__(recorder, name, unit, dims)
        self._factor = TIMER_UNITS[unit]
        self._starts: dict[int, list[float]] = {}

    def record(self, value: float) -> None:
        """Record one duration (a number >= 0, in the timer's unit)."""
        self._value(self._number, _time(), value)

    def __enter__(self) -> Timer:
        # per greenlet (Locust patches threading, so get_ident names the greenlet): users
        # sharing one handle never stop each other's clocks
        self._starts.setdefault(threading.get_ident(), []).append(time.perf_counter())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ident = threading.get_ident()
        starts = self._starts[ident]
        started = starts.pop()
        if not starts:
            del self._starts[ident]
        self.record((time.perf_counter() - started) * self._factor)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Time every call of ``func``."""
        factor, record = self._factor, self.record
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                started = time.perf_counter()
                try:
                    return await func(*args, **kwargs)  # type: ignore[misc]
                finally:
                    record((time.perf_counter() - started) * factor)

            return timed_async  # type: ignore[return-value]

        @functools.wraps(func)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                record((time.perf_counter() - started) * factor)

        return timed


_H = TypeVar("_H", bound=_Handle)
_handles: dict[tuple[Any, ...], Any] = {}
_MAX_CACHED = 10_000  # (keyword orders of) series; past it the cache starts over


def _made(cls: type[_H], key: tuple[Any, ...], name: str, unit: str, dims: dict[str, Any]) -> _H:
    """A new handle for a call whose arguments were not seen before, cached by them."""
    handle = cls(default_recorder(), name, unit, dims)
    try:
        if len(_handles) >= _MAX_CACHED:
            _handles.clear()
        _handles[key] = handle
    except TypeError:  # an unhashable dimension value that register accepted: not cached
        pass
    return handle


# Each function looks its handle up by its own arguments, in the order given, without a
# helper call: a value recorded through ``histogram(name, **dims).record(x)`` each time
# should cost about what a request costs.


def counter(name: str, *, unit: str, **dims: str | int | bool) -> Counter:
    """A counter: ``counter("detector.batch.items", unit="items", model="fast").add(3)``."""
    key = (Counter, name, unit, *dims.items())
    try:
        return _handles[key]
    except (KeyError, TypeError):  # made outside the handler: an error has no KeyError context
        pass
    return _made(Counter, key, name, unit, dims)


def meter(name: str, *, unit: str, **dims: str | int | bool) -> Meter:
    """A meter (events as a rate): ``meter("detector.alerts", unit="alerts").mark()``."""
    key = (Meter, name, unit, *dims.items())
    try:
        return _handles[key]
    except (KeyError, TypeError):  # made outside the handler: an error has no KeyError context
        pass
    return _made(Meter, key, name, unit, dims)


def gauge(name: str, *, unit: str, **dims: str | int | bool) -> Gauge:
    """A gauge: ``gauge("detector.queue.depth", unit="jobs").set(12)``."""
    key = (Gauge, name, unit, *dims.items())
    try:
        return _handles[key]
    except (KeyError, TypeError):  # made outside the handler: an error has no KeyError context
        pass
    return _made(Gauge, key, name, unit, dims)


def histogram(name: str, *, unit: str, **dims: str | int | bool) -> Histogram:
    """A histogram: ``histogram("detector.score", unit="1", model="fast").record(0.93)``."""
    key = (Histogram, name, unit, *dims.items())
    try:
        return _handles[key]
    except (KeyError, TypeError):  # made outside the handler: an error has no KeyError context
        pass
    return _made(Histogram, key, name, unit, dims)


def timer(name: str, *, unit: str = "ms", **dims: str | int | bool) -> Timer:
    """A timer: ``with timer("detector.parse"): ...``, ``@timer("x")`` or ``.record(12.5)``."""
    key = (Timer, name, unit, *dims.items())
    try:
        return _handles[key]
    except (KeyError, TypeError):  # made outside the handler: an error has no KeyError context
        pass
    return _made(Timer, key, name, unit, dims)
