"""Checks of timeline lines as they are read: a damaged line is refused alone, never spread.

A timeline is evidence written while a run goes; a bit flip, a disk that filled up or a
hand edit can damage one line of it. The reader skips such a line and counts it
(``Timeline.damaged_records``) instead of losing the whole analysis to it, or, worse,
carrying a negative count into the throughput. Each check returns why a line is refused,
or ``None`` when it is sound.

    >>> bounds = TimeBounds.around(1_700_000_000.0)
    >>> request_problem({"t": 1_700_000_001, "method": "GET", "name": "/", "count": -3}, bounds)
    'count must be an integer >= 0, got -3'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from framework.limits import excerpt
from framework.timeline.codec import decode_buckets

__all__ = [
    "MAX_CLOCK_SKEW_S",
    "MAX_RUN_S",
    "TimeBounds",
    "arrival_line_problem",
    "arrival_problem",
    "gauges_problem",
    "histogram_totals",
    "latency_count",
    "metric_line_problem",
    "metric_problem",
    "request_line_problem",
    "request_problem",
    "service_count",
]

MAX_CLOCK_SKEW_S = 86_400
"""How far before the timeline's creation a record's second may lie (a worker's clock)."""
MAX_RUN_S = 366 * 86_400
"""How far after the timeline's creation a record's second may lie (a year-long soak)."""


@dataclass(frozen=True)
class TimeBounds:
    """The unix seconds a record of this timeline may carry, ``[low, high]``."""

    low: int
    high: int

    @classmethod
    def around(cls, created_s: Any) -> TimeBounds:
        """Bounds around the header's ``created_s``; any non-negative second without one."""
        if _is_number(created_s) and math.isfinite(created_s) and created_s > 0:
            return cls(int(created_s) - MAX_CLOCK_SKEW_S, int(created_s) + MAX_RUN_S)
        return cls(0, 2**53)


def request_problem(obj: Mapping[str, Any], bounds: TimeBounds) -> str | None:
    """Why a ``req`` or ``late`` line is refused, or ``None``; its histogram is checked
    apart (``histogram_totals``), in one batch per endpoint.

    It runs once per line of ~100k an hour, so the common case is one chain of ``type(x)
    is int`` tests (which also refuse ``bool``); the reasons are worked out only for the
    rare damaged line.
    """
    t, count = obj.get("t"), obj.get("count")
    sum_us, sumsq = obj.get("sum_us", 0), obj.get("sumsq_us", 0)
    failures, hist = obj.get("failures") or {}, obj.get("hist") or ""
    apart = "fail_sum_us" in obj  # version 2: the failures' latencies are kept apart
    if (
        type(count) is int
        and type(failures) is dict
        and all(type(n) is int and n >= 0 for n in failures.values())
        and (not apart or _failures_apart_sound(obj, sum(failures.values())))
    ):
        measured = latency_count(obj)
    else:
        return _request_reason(obj, bounds)
    if (
        type(t) is int
        and bounds.low <= t <= bounds.high
        and type(obj.get("method")) is str
        and type(obj.get("name")) is str
        and type(count) is int
        and count >= 0
        and type(obj.get("bytes", 0)) is int
        and obj.get("bytes", 0) >= 0
        and type(sum_us) is int
        and sum_us >= 0
        and (type(sumsq) is int or (type(sumsq) is float and math.isfinite(sumsq)))
        and sumsq >= 0
        and type(failures) is dict
        and all(type(n) is int and n >= 0 for n in failures.values())
        and sum(failures.values()) <= count
        and type(hist) is str
        and (bool(hist) == (measured > 0))
        and (measured > 0 or not (sum_us or sumsq))
        and sumsq * measured >= sum_us * sum_us * (1 - 1e-9)  # no negative variance
        and _messages_sound(obj.get("failure_messages", {}))
        and ("svc_count" not in obj or _service_sound(obj, measured))
    ):
        return None
    return _request_reason(obj, bounds)


def _request_reason(obj: Mapping[str, Any], bounds: TimeBounds) -> str:
    """The first thing wrong with a request line that ``request_problem`` refused."""
    problem = _time_problem(obj.get("t"), bounds)
    if problem:
        return problem
    for key in ("method", "name"):
        if not isinstance(obj.get(key), str):
            return f"{key} must be text, got {_shown(obj.get(key))}"
    count = obj.get("count")
    if not _is_count(count):
        return f"count must be an integer >= 0, got {_shown(count)}"
    for key in ("bytes", "sum_us"):
        if not _is_count(obj.get(key, 0)):
            return f"{key} must be an integer >= 0, got {_shown(obj.get(key))}"
    sumsq = obj.get("sumsq_us", 0)
    if not (_is_number(sumsq) and math.isfinite(sumsq) and sumsq >= 0):
        return f"sumsq_us must be a number >= 0, got {_shown(sumsq)}"
    failures = obj.get("failures") or {}
    if not isinstance(failures, Mapping):
        return f"failures must be an object of counts, got {_shown(failures)}"
    for kind, n in failures.items():
        if not _is_count(n):
            return f"failures[{_shown(kind)}] must be an integer >= 0, got {_shown(n)}"
    failed = sum(failures.values())
    if failed > count:
        return f"{failed} failures out of {count} requests"
    if "fail_sum_us" in obj and not _failures_apart_sound(obj, failed):
        return _failures_apart_reason(obj, failed)
    hist = obj.get("hist") or ""
    if not isinstance(hist, str):
        return f"hist must be text, got {type(hist).__name__}"
    if not _messages_sound(obj.get("failure_messages", {})):
        return "failure_messages must be an object of counts >= 0 keyed by message text"
    measured = latency_count(obj)
    if "svc_count" in obj and not _service_sound(obj, measured):
        return _service_reason(obj, measured)
    held = "successful requests" if "fail_sum_us" in obj else "count"
    if measured == 0 and (hist or obj.get("sum_us", 0) or sumsq):
        return f"latencies recorded for a {held} of 0"
    if measured > 0 and not hist:
        return f"{held} {measured} without a histogram"
    return "sumsq_us is too small for sum_us (a negative variance)"


def _messages_sound(messages: Any) -> bool:
    """Whether ``failure_messages`` is ``{message text: count >= 0}``."""
    return type(messages) is dict and all(
        type(k) is str and type(n) is int and n >= 0 for k, n in messages.items()
    )


def latency_count(obj: Mapping[str, Any]) -> int:
    """How many latencies a sound request line's ``hist`` holds: its successful requests
    when the failures' are kept apart (version 2), every request otherwise (version 1)."""
    if "fail_sum_us" in obj:
        return obj["count"] - sum((obj.get("failures") or {}).values())
    return obj["count"]


def _service_sound(obj: Mapping[str, Any], successes: int) -> bool:
    """Whether a version-3 line's ``svc_*`` fields are of the right types and agree: at
    most one service time per successful request, a histogram exactly when some."""
    n, total = obj.get("svc_count"), obj.get("svc_sum_us", 0)
    sumsq, hist = obj.get("svc_sumsq_us", 0), obj.get("svc_hist") or ""
    return (
        type(n) is int
        and 0 <= n <= successes
        and type(total) is int
        and total >= 0
        and (type(sumsq) is int or (type(sumsq) is float and math.isfinite(sumsq)))
        and sumsq >= 0
        and type(hist) is str
        and bool(hist) == (n > 0)
        and (n > 0 or not (total or sumsq))
        and sumsq * n >= total * total * (1 - 1e-9)
    )


def _service_reason(obj: Mapping[str, Any], successes: int) -> str:
    """The first thing wrong with a version-3 line's ``svc_*`` fields."""
    n = obj.get("svc_count")
    if not _is_count(n):
        return f"svc_count must be an integer >= 0, got {_shown(n)}"
    if n > successes:
        return f"svc_count {n} is more than the {successes} successful requests"
    if not _is_count(obj.get("svc_sum_us", 0)):
        return f"svc_sum_us must be an integer >= 0, got {_shown(obj.get('svc_sum_us'))}"
    sumsq = obj.get("svc_sumsq_us", 0)
    if not (_is_number(sumsq) and math.isfinite(sumsq) and sumsq >= 0):
        return f"svc_sumsq_us must be a number >= 0, got {_shown(sumsq)}"
    hist = obj.get("svc_hist") or ""
    if not isinstance(hist, str):
        return f"svc_hist must be text, got {type(hist).__name__}"
    if bool(hist) != (n > 0):
        return f"svc_count {n} with {'a' if hist else 'no'} service histogram"
    if n == 0:
        return "service times recorded for a svc_count of 0"
    return "svc_sumsq_us is too small for svc_sum_us (a negative variance)"


def service_count(obj: Mapping[str, Any]) -> int:
    """How many service times a sound request line's ``svc_hist`` holds (version 3)."""
    return obj.get("svc_count", 0)


def arrival_problem(obj: Mapping[str, Any], bounds: TimeBounds) -> str | None:
    """Why an ``arr`` line is refused, or ``None``; its ``lag_hist`` is checked apart
    (``histogram_totals``), as a request line's histograms are."""
    problem = _time_problem(obj.get("t"), bounds)
    if problem:
        return problem
    if not isinstance(obj.get("group"), str):
        return f"group must be text, got {_shown(obj.get('group'))}"
    for key in ("due", "started", "dropped", "lag_sum_us", "in_flight_max"):
        if not _is_count(obj.get(key, 0)):
            return f"{key} must be an integer >= 0, got {_shown(obj.get(key))}"
    started, dropped = obj.get("started", 0), obj.get("dropped", 0)
    due = obj.get("due", started + dropped)
    if due != started + dropped:
        return f"due {due} is not started {started} + dropped {dropped}"
    sumsq = obj.get("lag_sumsq_us", 0)
    if not (_is_number(sumsq) and math.isfinite(sumsq) and sumsq >= 0):
        return f"lag_sumsq_us must be a number >= 0, got {_shown(sumsq)}"
    hist = obj.get("lag_hist") or ""
    if not isinstance(hist, str):
        return f"lag_hist must be text, got {type(hist).__name__}"
    if bool(hist) != (started > 0):
        return f"{started} started arrivals with {'a' if hist else 'no'} lag histogram"
    lag_sum = obj.get("lag_sum_us", 0)
    if started == 0 and (lag_sum or sumsq):
        return "lags recorded for 0 started arrivals"
    if sumsq * started < lag_sum * lag_sum * (1 - 1e-9):
        return "lag_sumsq_us is too small for lag_sum_us (a negative variance)"
    late = obj.get("late", False)
    if not isinstance(late, bool):
        return f"late must be true or false, got {_shown(late)}"
    return None


def arrival_line_problem(obj: Mapping[str, Any], bounds: TimeBounds) -> str | None:
    """Why an ``arr`` line read on its own is refused, its lag histogram included (the
    live tail's check; the reader checks histograms in one batch)."""
    problem = arrival_problem(obj, bounds)
    if problem is not None or not obj.get("lag_hist"):
        return problem
    total = _one_total(obj["lag_hist"])
    if isinstance(total, str):
        return f"its lag histogram: {total}"
    if total != obj.get("started", 0):
        return f"{obj.get('started', 0)} started arrivals but {total} lags in its lag histogram"
    return None


def _failures_apart_sound(obj: Mapping[str, Any], failed: int) -> bool:
    """Whether a version-2 line's ``fail_*`` fields are of the right types and agree."""
    fail_sum, fail_sumsq = obj.get("fail_sum_us"), obj.get("fail_sumsq_us", 0)
    fail_hist = obj.get("fail_hist") or ""
    return (
        type(fail_sum) is int
        and fail_sum >= 0
        and (type(fail_sumsq) is int or (type(fail_sumsq) is float and math.isfinite(fail_sumsq)))
        and fail_sumsq >= 0
        and type(fail_hist) is str
        and bool(fail_hist) == (failed > 0)
        and fail_sumsq * failed >= fail_sum * fail_sum * (1 - 1e-9)
    )


def _failures_apart_reason(obj: Mapping[str, Any], failed: int) -> str:
    """The first thing wrong with a version-2 line's ``fail_*`` fields."""
    if not _is_count(obj.get("fail_sum_us")):
        return f"fail_sum_us must be an integer >= 0, got {_shown(obj.get('fail_sum_us'))}"
    fail_sumsq = obj.get("fail_sumsq_us", 0)
    if not (_is_number(fail_sumsq) and math.isfinite(fail_sumsq) and fail_sumsq >= 0):
        return f"fail_sumsq_us must be a number >= 0, got {_shown(fail_sumsq)}"
    fail_hist = obj.get("fail_hist") or ""
    if not isinstance(fail_hist, str):
        return f"fail_hist must be text, got {type(fail_hist).__name__}"
    if bool(fail_hist) != (failed > 0):
        return f"{failed} failures with {'a' if fail_hist else 'no'} failure histogram"
    return "fail_sumsq_us is too small for fail_sum_us (a negative variance)"


def gauges_problem(obj: Mapping[str, Any], bounds: TimeBounds) -> str | None:
    """Why a ``sec`` line is refused, or ``None``."""
    problem = _time_problem(obj.get("t"), bounds)
    if problem:
        return problem
    for key in ("users", "workers"):
        value = obj.get(key)
        if value is not None and not _is_count(value):
            return f"{key} must be an integer >= 0 or null, got {_shown(value)}"
    cpu = obj.get("cpu")
    if cpu is not None and not (_is_number(cpu) and math.isfinite(cpu) and cpu >= 0):
        return f"cpu must be a number >= 0 or null, got {_shown(cpu)}"
    paused = obj.get("paused", False)
    if not isinstance(paused, bool):
        return f"paused must be true or false, got {_shown(paused)}"
    active = obj.get("active", {})
    if not (
        isinstance(active, Mapping)
        and all(isinstance(k, str) and _is_count(n) for k, n in active.items())
    ):
        return f"active must be an object of counts >= 0 keyed by group, got {_shown(active)}"
    return None


def metric_problem(obj: Mapping[str, Any], bounds: TimeBounds) -> str | None:
    """Why a ``met`` line is refused, or ``None``; its histogram is checked apart
    (``histogram_totals``), in one batch, against ``count``."""
    problem = _time_problem(obj.get("t"), bounds)
    if problem:
        return problem
    for key in ("count", "missing"):
        value = obj.get(key, 0)
        if not _is_count(value):
            return f"{key} must be an integer >= 0, got {_shown(value)}"
    if not isinstance(obj.get("unit"), str):
        return f"unit must be text, got {_shown(obj.get('unit'))}"
    dims = obj.get("dims", {})
    if not (
        isinstance(dims, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in dims.items())
    ):
        return f"dims must be an object of text values, got {_shown(dims)}"
    for key in ("sum", "sumsq", "min", "max", "last", "last_at"):
        value = obj.get(key)
        if value is not None and not (_is_number(value) and math.isfinite(value)):
            return f"{key} must be a finite number, got {_shown(value)}"
    if not isinstance(obj.get("hist", ""), str):
        return f"hist must be text, got {_shown(obj.get('hist'))}"
    if obj.get("sumsq", 0) < 0:
        return f"sumsq must be >= 0, got {_shown(obj.get('sumsq'))}"
    return None


def metric_line_problem(obj: Mapping[str, Any], bounds: TimeBounds) -> str | None:
    """Why a ``met`` line read on its own (a live tail) is refused, histogram included:
    a histogram kind's ``hist`` decodes and holds exactly ``count`` values."""
    problem = metric_problem(obj, bounds)
    if problem is not None or not obj.get("hist"):
        return problem
    total = _one_total(obj["hist"])
    if isinstance(total, str):
        return total
    if total != obj["count"]:
        return f"count {obj['count']} but {total} in its histogram"
    return None


def histogram_totals(
    blobs: Sequence[str],
) -> tuple[list[int | str], tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Each blob's count of latencies, or why it does not decode; and the batch decoded.

    Every blob is decoded in one batch (``decode_buckets``), which the reader hands on so
    the analysis need not decode it again. Only when the batch fails is each blob decoded
    alone, to find the damaged ones; the decoded batch is then ``None``.
    """
    try:
        decoded = decode_buckets(blobs)
    except _DECODE_ERRORS:
        return [_one_total(blob) for blob in blobs], None
    indptr, _index, counts = decoded
    running = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
    totals = running[indptr[1:]] - running[indptr[:-1]]
    return totals.tolist(), decoded


def request_line_problem(obj: Mapping[str, Any], bounds: TimeBounds) -> str | None:
    """Why a ``req`` or ``late`` line read on its own is refused, histograms included.

    The reader checks histograms in one batch per endpoint over the whole file; a live tail
    (``framework.live.timeline_tail``) sees a few lines a second, so it checks each line's
    ``hist`` and ``fail_hist`` here, by the same rule: each decodes and holds exactly the
    latencies its counts say.
    """
    problem = request_problem(obj, bounds)
    if problem is not None:
        return problem
    failed = sum((obj.get("failures") or {}).values())
    for key, wanted, what in (
        ("hist", latency_count(obj), "its histogram"),
        ("fail_hist", failed, "its failure histogram"),
        ("svc_hist", service_count(obj), "its service histogram"),
    ):
        blob = obj.get(key)
        if not blob:
            continue
        total = _one_total(blob)
        if isinstance(total, str):
            return total if key == "hist" else f"{what}: {total}"
        if total != wanted:
            return f"{wanted} latencies but {total} in {what}"
    return None


def _one_total(blob: str) -> int | str:
    try:
        _indptr, _index, counts = decode_buckets([blob])
    except _DECODE_ERRORS as exc:
        return f"histogram does not decode ({type(exc).__name__}: {exc})".replace(" ()", "")
    return int(counts.sum())


# What decoding damaged bytes raises: base64, zlib and struct errors, a bucket beyond the
# layout (IndexError), and hdrh's own exceptions (HdrCookieException, HdrLengthException),
# which derive from Exception directly: only Exception names them all. The decoders are
# pure functions of the bytes, so nothing else is caught by it.
_DECODE_ERRORS = (Exception,)


def _time_problem(t: Any, bounds: TimeBounds) -> str | None:
    if not _is_int(t):
        return f"t must be a whole unix second, got {_shown(t)}"
    if not bounds.low <= t <= bounds.high:
        return f"t {t} is out of range for this timeline ({bounds.low}..{bounds.high})"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_int(value) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: object) -> str:
    """A value as a reason quotes it: its ``repr``, cut to 80 characters."""
    return excerpt(repr(value))
