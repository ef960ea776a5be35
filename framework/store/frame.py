"""``run_frame``: a run's timeline as one tidy pandas row per second × request name.

The rows come from the timeline's own columns (``TimelineColumns``: counters as arrays,
each name's histograms decoded once for the whole run), as the report's per-second charts
read them; nothing re-parses ``timeline.jsonl``. Every second × every name is a row, a
name without requests in a second included (``requests`` 0, latencies NaN), so a sum or a
resample over the frame is a sum over time. Paused seconds are rows too, marked
``counted`` False: no figure of the report counts them.

Per-second percentiles are read off that second's HdrHistogram as the report's charts read
them (the highest value of the bucket, HdrHistogram's convention); a window's figures with
intervals are :func:`framework.store.query.query_run`'s.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from framework.store.run_seconds import RunSeconds, resolve_run_dir
from framework.timeline.columns import TimelineColumns
from framework.timeline.endpoints import endpoint_key
from framework.timeline.histograms import BucketRows
from framework.timeline.records import Second

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FRAME_COLUMNS", "frame_of", "run_frame"]

FRAME_COLUMNS = (
    "time",
    "elapsed_s",
    "name",
    "method",
    "requests",
    "failures",
    "error_rate",
    "rps",
    "mean_ms",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "users",
    "phase",
    "fault",
    "counted",
)
"""The columns of ``run_frame``, in order (docs/query.md says what each holds)."""


def run_frame(run: str | Path, *, reports_dir: str | Path = "reports") -> pd.DataFrame:
    """One row per second × request name of ``run``, for notebooks.

    ``run`` is a run folder, a run id in ``reports_dir`` or ``"latest"`` (the run there that
    started last). Columns (``FRAME_COLUMNS``): ``time`` (UTC ``Timestamp`` of the second's
    start), ``elapsed_s`` (that, in seconds after the run's start; pauses included),
    ``name`` and ``method`` (the request), ``requests`` and ``failures`` in that second,
    ``error_rate`` (failures / requests), ``rps`` (requests per second: the second's
    requests), ``mean_ms`` and ``p50_ms``/``p95_ms``/``p99_ms``/``max_ms`` of its successful
    requests (NaN without one), ``users`` running, the plan ``phase`` holding the whole
    second (``None`` for a second a phase boundary cuts), the ``fault`` in force at some
    moment of it (``None``: no fault), and ``counted`` (False: the run was paused in that
    second; the report leaves it out). Rows are in time order, names sorted within a second.

    Raises ``UsageError`` (no such run) or ``ReportError`` (its files cannot be read)::

        frame = framework.run_frame("latest")
        frame[frame.counted].groupby("name").requests.sum()
        frame.set_index("time").groupby("name").p95_ms.resample("30s").max()
    """
    return frame_of(RunSeconds.load(resolve_run_dir(run, reports_dir)))


def frame_of(seconds: RunSeconds) -> pd.DataFrame:
    """``run_frame`` of a run already read."""
    import pandas as pd

    timeline = seconds.timeline
    parts = [(seconds.columns, timeline.seconds, True)]
    if timeline.paused:
        paused = replace(timeline, seconds=timeline.paused, paused=(), decoded_rows={})
        parts.append((TimelineColumns(paused), timeline.paused, False))
    endpoints = sorted({e for columns, _, _ in parts for e in columns.endpoints()})
    if not endpoints:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FRAME_COLUMNS})
    blocks = [
        _block(seconds, columns, found, counted, endpoints) for columns, found, counted in parts
    ]
    data = {c: np.concatenate([b[c] for b in blocks]) for c in FRAME_COLUMNS}
    order = np.argsort(data["time"], kind="stable")
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(data["time"][order], unit="s", utc=True),
            **{c: data[c][order] for c in FRAME_COLUMNS[1:]},
            "name": pd.Series(data["name"][order], dtype=str),
            "method": pd.Series(data["method"][order], dtype=str),
            "users": pd.array(data["users"][order], dtype="Int64"),
            "phase": pd.Series(data["phase"][order], dtype=object),  # None stays None
            "fault": pd.Series(data["fault"][order], dtype=object),
        },
        columns=list(FRAME_COLUMNS),
    )
    return frame


def _block(
    seconds: RunSeconds,
    columns: TimelineColumns,
    found: tuple[Second, ...],
    counted: bool,
    endpoints: list[tuple[str, str]],
) -> dict[str, np.ndarray]:
    """The rows of ``found`` (seconds of ``columns``' timeline), every endpoint's, second by
    second within each endpoint."""
    n = len(found)
    t = np.array([s.t for s in found], dtype=np.int64)
    users = np.array([np.nan if s.users is None else s.users for s in found], dtype=float)
    phase = np.array([seconds.phase_of(s.t) for s in found], dtype=object)
    fault = np.array([seconds.fault_of(s.t) for s in found], dtype=object)
    elapsed = np.round(t - seconds.start_s, 3)
    held = set(columns.endpoints())
    per: list[dict[str, np.ndarray]] = []
    for method, name in endpoints:
        rows: dict[str, np.ndarray] = {
            "time": t,
            "elapsed_s": elapsed,
            "name": np.full(n, name, dtype=object),
            "method": np.full(n, method, dtype=object),
            "users": users,
            "phase": phase,
            "fault": fault,
            "counted": np.full(n, counted),
        }
        if (method, name) in held:
            rows.update(_figures(columns, endpoint_key(method, name)))
        else:
            rows.update(_empty(n))
        per.append(rows)
    if not per:
        return {c: np.zeros(0, dtype=object) for c in FRAME_COLUMNS}
    return {c: np.concatenate([p[c] for p in per]) for c in FRAME_COLUMNS}


def _figures(columns: TimelineColumns, key: str) -> dict[str, np.ndarray]:
    """One endpoint's per-second figures over the whole of ``columns``' timeline."""
    counters = columns.counters(key)
    rows = columns.buckets(key)
    requests = counters.count.astype(np.int64)
    failures = counters.failures.astype(np.int64)
    latencies = counters.latency_count if counters.latency_count is not None else counters.count
    with np.errstate(divide="ignore", invalid="ignore"):
        error_rate = np.where(requests > 0, failures / requests, np.nan)
        mean_ms = np.where(latencies > 0, counters.sum_us / latencies / 1000, np.nan)
    percentiles = rows.percentiles_us((50, 95, 99)) / 1000
    return {
        "requests": requests,
        "failures": failures,
        "error_rate": error_rate,
        "rps": requests.astype(float),
        "mean_ms": mean_ms,
        "p50_ms": percentiles[:, 0],
        "p95_ms": percentiles[:, 1],
        "p99_ms": percentiles[:, 2],
        "max_ms": _row_max_us(rows) / 1000,
    }


def _row_max_us(rows: BucketRows) -> np.ndarray:
    """Each row's highest recorded value (µs, HdrHistogram's ``get_max_value``); NaN when empty."""
    out = np.full(len(rows), np.nan)
    full = np.flatnonzero(np.diff(rows.indptr) > 0)
    if full.size:
        out[full] = rows.layout.highest_values(rows.index[rows.indptr[full + 1] - 1])
    return out


def _empty(n: int) -> dict[str, np.ndarray]:
    nan = np.full(n, np.nan)
    zero = np.zeros(n, dtype=np.int64)
    return {
        "requests": zero,
        "failures": zero,
        "error_rate": nan,
        "rps": np.zeros(n),
        "mean_ms": nan,
        "p50_ms": nan,
        "p95_ms": nan,
        "p99_ms": nan,
        "max_ms": nan,
    }
