"""A live run in InfluxDB line protocol: each closed second becomes points, and where they
wait until the server takes them.

Pure (no Locust, no network, no clock): the sink in ``framework.locust_glue.influx_sink``
builds the points here on the master's event loop and sends them from a thread of its own.
One closed second of the merged timeline gives, at that second's timestamp (precision s):

- ``swarm_requests`` per request name: tags ``run_id``, ``scenario``, ``name``, ``method``;
  fields ``count``, ``failures``, ``timeouts``, ``bytes`` (integers), ``rps``, ``mean_ms``,
  ``p50_ms``, ``p90_ms``, ``p95_ms``, ``p99_ms``, ``max_ms`` (floats; latency fields only
  when a request succeeded in that second: latency figures are of successes).
- ``swarm_failures`` per request name and failure kind: the same tags and ``kind``
  (``HTTP 500``, ``timeout``, ``ConnectionRefusedError`` …); field ``count``.
- ``swarm_run``: tags ``run_id``, ``scenario``; fields ``users``, ``workers``,
  ``requests``, ``failures`` (integers), ``rps`` (float), ``paused`` (1 when the second is
  left out of every statistic, else 0), ``state`` (the run's state, a string).
- ``swarm_metric`` per custom metric and dimension set recorded in that second: tags
  ``run_id``, ``scenario``, ``name``, ``kind``, ``unit`` and one per dimension (a dimension
  named like one of those five is tagged ``dim_<name>``); fields by kind
  (``framework.live.custom_metrics.second_figures``): counter and meter ``count``, ``sum``,
  ``rate``; histogram and timer ``count``, ``sum``, ``mean``, ``min``, ``max``, ``p50``,
  ``p95``, ``p99`` (in the metric's unit); gauge ``count``, ``last``, ``min``, ``max``;
  ``missing`` (values looked for and not found) when not 0. Counts are integers.
- ``swarm_arrivals`` per open-model load group with arrivals due in that second: tags
  ``run_id``, ``scenario``, ``group``; fields ``due``, ``started``, ``dropped``,
  ``in_flight_max`` (integers), ``in_flight`` (integer, the arrivals in flight sampled in
  the second, when reported), ``lag_mean_ms``, ``lag_p50_ms``, ``lag_p99_ms`` (floats, the
  schedule lag of the started arrivals, when any started). Arrivals belong to the second
  they were *due* in; those that started after it closed come later
  (``LiveFeed.arrival_late``), and ``ArrivalSeconds`` rewrites that second's point with all
  of them, so the point ends up holding the whole second.

    >>> from framework.timeline.records import ArrivalSecond, RequestSecond, Second
    >>> second = Second(t=1700000000, users=2, workers=1,
    ...     requests=(RequestSecond.from_latencies(1700000000, "GET", "/a b", [2.0, 4.0]),))
    >>> lines = second_points(second, run_id="r1", scenario="smoke", state="running")
    >>> lines[0].split(",method=GET ")[0]
    'swarm_requests,run_id=r1,scenario=smoke,name=/a\\\\ b'
    >>> print(lines[-1].replace(",", "\\n  "))
    swarm_run
      run_id=r1
      scenario=smoke users=2i
      workers=1i
      requests=2i
      failures=0i
      rps=2.0
      paused=0i
      state="running" 1700000000
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from framework.live.custom_metrics import dimension_labels, second_figures
from framework.scenario.interpolation import mask_url_password
from framework.timeline.codec import LAYOUT, decode_buckets, sum_blobs
from framework.timeline.endpoints import is_aggregate
from framework.timeline.histograms import SparseHistogram, percentiles_us
from framework.timeline.metric_records import MetricSecond
from framework.timeline.recorder import is_timeout
from framework.timeline.records import ArrivalSecond, RequestSecond, Second

__all__ = [
    "ARRIVALS",
    "BUFFER_POINTS",
    "CUSTOM_METRIC",
    "ENV_BUCKET",
    "ENV_ORG",
    "ENV_TOKEN",
    "ENV_URL",
    "FAILURES",
    "REQUESTS",
    "RUN",
    "ArrivalSeconds",
    "InfluxSettings",
    "PointBuffer",
    "arrival_point",
    "influx_settings",
    "metric_point",
    "run_point",
    "second_points",
    "state_point",
]

REQUESTS = "swarm_requests"
FAILURES = "swarm_failures"
RUN = "swarm_run"
ARRIVALS = "swarm_arrivals"
CUSTOM_METRIC = "swarm_metric"
_METRIC_TAGS = ("run_id", "scenario", "name", "kind", "unit")

ENV_URL = "INFLUXDB_V2_URL"
ENV_ORG = "INFLUXDB_V2_ORG"
ENV_TOKEN = "INFLUXDB_V2_TOKEN"
ENV_BUCKET = "INFLUXDB_V2_BUCKET"

BUFFER_POINTS = 60_000
"""Points kept while the server is down or slow, the oldest dropped first beyond it: a
20-name run makes about 21 points a second (61 with two failure kinds on every name), so
this holds 16 to 47 minutes of it, in under 20 MB."""

_LEVELS = (50.0, 90.0, 95.0, 99.0, 100.0)


@dataclass(frozen=True)
class InfluxSettings:
    """Where the sink writes: influxdb-client's v2 settings. The token never shows in
    ``repr()``, and ``shown_url`` hides a password in the URL."""

    url: str
    org: str
    bucket: str
    token: str = ""

    def __repr__(self) -> str:
        token = "***" if self.token else "''"
        return (
            f"InfluxSettings(url={self.shown_url!r}, org={self.org!r}, "
            f"bucket={self.bucket!r}, token={token})"
        )

    @property
    def shown_url(self) -> str:
        return mask_url_password(self.url)


def influx_settings(environ: Mapping[str, str]) -> InfluxSettings | None:
    """The sink's settings from influxdb-client's variables, or ``None`` without
    ``INFLUXDB_V2_URL`` (no sink). Raises ``ValueError`` naming the variable when the URL is
    not http(s)://host[:port] or the bucket is missing."""
    url = (environ.get(ENV_URL) or "").strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018  # raises ValueError on a port that is no number or too big
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(
            f"{ENV_URL} must be an http:// or https:// URL of the InfluxDB server, "
            f"got {mask_url_password(url)!r}"
        )
    bucket = (environ.get(ENV_BUCKET) or "").strip()
    if not bucket:
        raise ValueError(f"{ENV_BUCKET} must name the bucket to write to when {ENV_URL} is set")
    return InfluxSettings(
        url=url,
        org=(environ.get(ENV_ORG) or "").strip(),
        bucket=bucket,
        token=environ.get(ENV_TOKEN) or "",
    )


# -- line protocol ---------------------------------------------------------------------------

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\\": "\\\\"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": " "})


def _tags(measurement: str, tags: Iterable[tuple[str, str]]) -> str:
    """``measurement,key=value,...``: empty values left out (line protocol has none)."""
    parts = [measurement.translate(_MEASUREMENT_ESCAPES)]
    parts += [f"{k}={v.translate(_TAG_ESCAPES)}" for k, v in tags if v]
    return ",".join(parts)


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _float(value: float) -> str:
    return repr(float(value))


def run_point(
    t: int,
    *,
    run_id: str,
    scenario: str,
    state: str,
    users: int | None,
    workers: int | None,
    requests: int = 0,
    failures: int = 0,
    paused: bool = False,
) -> str:
    """The ``swarm_run`` point of second ``t``: load, totals and the run's state (users and
    workers left out when the second has no sample of them)."""
    head = _tags(RUN, (("run_id", run_id), ("scenario", scenario)))
    load = "".join(
        f"{key}={int(value)}i,"
        for key, value in (("users", users), ("workers", workers))
        if value is not None
    )
    fields = (
        f"{load}requests={int(requests)}i,failures={int(failures)}i,rps={_float(requests)},"
        f"paused={int(paused)}i,state={_string(state)}"
    )
    return f"{head} {fields} {int(t)}"


def state_point(t: int, *, run_id: str, scenario: str, state: str) -> str:
    """A ``swarm_run`` point with the run's state alone: when the run starts and ends, at a
    second that holds no totals (so it never overwrites a second's fields)."""
    head = _tags(RUN, (("run_id", run_id), ("scenario", scenario)))
    return f"{head} state={_string(state)} {int(t)}"


def second_points(
    second: Second, *, run_id: str, scenario: str, state: str, counted: bool = True
) -> list[str]:
    """Every point of one closed second: per name, per name and failure kind, the run.

    ``state`` is the run's state when the second closed; a second that is not ``counted``
    (paused) says ``paused=1`` (and ``state="paused"`` unless the run has moved on to end).
    """
    by_key: dict[str, list[RequestSecond]] = {}
    for record in second.requests:
        by_key.setdefault(record.key, []).append(record)
    groups = list(by_key.values())
    blobs: list[str] = []
    owner: list[int] = []
    for i, records in enumerate(groups):
        for record in records:
            for blob in record.hist_blobs:
                if blob:
                    blobs.append(blob)
                    owner.append(i)
    latencies = _percentiles(groups, blobs, owner)
    lines: list[str] = []
    total = failed = 0
    t = int(second.t)
    for i, records in enumerate(groups):
        first = records[0]
        tags = (
            ("run_id", run_id),
            ("scenario", scenario),
            ("name", first.name),
            ("method", first.method),
        )
        count = sum(r.count for r in records)
        failures: dict[str, int] = {}
        for record in records:
            for kind, n in record.failures.items():
                failures[kind] = failures.get(kind, 0) + n
        failure_count = sum(failures.values())
        timeouts = sum(n for kind, n in failures.items() if is_timeout(kind))
        nbytes = sum(r.bytes for r in records)
        latency_n = sum(r.latency_count for r in records)
        fields = (
            f"count={count}i,failures={failure_count}i,timeouts={timeouts}i,bytes={nbytes}i,"
            f"rps={_float(count)}"
        )
        if latency_n > 0:
            sum_us = sum(r.sum_us for r in records)
            fields += f",mean_ms={_float(sum_us / latency_n / 1000)}"
            values = latencies.get(i)
            if values is not None:
                for label, value in zip(("p50", "p90", "p95", "p99", "max"), values, strict=True):
                    if value is not None:
                        fields += f",{label}_ms={_float(value / 1000)}"
        lines.append(f"{_tags(REQUESTS, tags)} {fields} {t}")
        for kind in sorted(failures):
            if failures[kind]:
                head = _tags(FAILURES, (*tags, ("kind", kind)))
                lines.append(f"{head} count={failures[kind]}i {t}")
        if not is_aggregate((first.method, first.name)):
            total += count
            failed += failure_count
    for arrival in second.arrivals:
        in_flight = second.active.get(arrival.group)
        lines.append(arrival_point(arrival, run_id=run_id, scenario=scenario, in_flight=in_flight))
    for metric in second.metrics:
        lines.append(metric_point(metric, run_id=run_id, scenario=scenario))
    lines.append(
        run_point(
            t,
            run_id=run_id,
            scenario=scenario,
            state=state if counted or state != "running" else "paused",
            users=second.users,
            workers=second.workers,
            requests=total,
            failures=failed,
            paused=not counted,
        )
    )
    return lines


def arrival_point(
    record: ArrivalSecond, *, run_id: str, scenario: str, in_flight: int | None = None
) -> str:
    """The ``swarm_arrivals`` point of one load group's arrivals due in second ``record.t``
    (lag fields only when some arrival started, ``in_flight`` only when known).

        >>> a = ArrivalSecond.from_lags(1700000000, "writers", [0.5, 2.0], dropped=1)
        >>> print(arrival_point(a, run_id="r1", scenario="s").replace(",", "\\n  "))
        swarm_arrivals
          run_id=r1
          scenario=s
          group=writers due=3i
          started=2i
          dropped=1i
          in_flight_max=0i
          lag_mean_ms=1.25
          lag_p50_ms=0.5
          lag_p99_ms=2.0 1700000000
    """
    head = _tags(ARRIVALS, (("run_id", run_id), ("scenario", scenario), ("group", record.group)))
    fields = (
        f"due={record.due}i,started={record.started}i,dropped={record.dropped}i,"
        f"in_flight_max={record.in_flight_max}i"
    )
    if in_flight is not None:
        fields += f",in_flight={int(in_flight)}i"
    blobs = [b for b in record.lag_hist_blobs if b]
    if record.started and blobs:
        p50, p99 = percentiles_us(sum_blobs(blobs), (50.0, 99.0))
        fields += f",lag_mean_ms={_float(record.lag_sum_us / record.started / 1000)}"
        for label, value in (("lag_p50_ms", p50), ("lag_p99_ms", p99)):
            if value is not None:
                fields += f",{label}={_float(value / 1000)}"
    return f"{head} {fields} {int(record.t)}"


def metric_point(record: MetricSecond, *, run_id: str, scenario: str) -> str:
    """The ``swarm_metric`` point of one custom metric and dimension set in second
    ``record.t``: its figures by kind (see the module doc).

        >>> m = MetricSecond(t=1700000000, name="detector.queue.depth", kind="gauge",
        ...     unit="jobs", dims=(("queue", "a b"),), count=2, sum=7, min=3.0, max=4.0,
        ...     last=4.0, last_at=1700000000.5)
        >>> print(metric_point(m, run_id="r1", scenario="s").replace(",", "\\n  "))
        swarm_metric
          run_id=r1
          scenario=s
          name=detector.queue.depth
          kind=gauge
          unit=jobs
          queue=a\\ b count=2i
          last=4.0
          min=3.0
          max=4.0 1700000000
    """
    tags = (
        ("run_id", run_id),
        ("scenario", scenario),
        ("name", record.name),
        ("kind", record.kind),
        ("unit", record.unit),
        *dimension_labels(record.dims, _METRIC_TAGS),
    )
    fields = ",".join(
        f"{key}={value}i" if isinstance(value, int) else f"{key}={_float(value)}"
        for key, value in second_figures(record).items()
    )
    return f"{_tags(CUSTOM_METRIC, tags)} {fields} {int(record.t)}"


class ArrivalSeconds:
    """The arrivals already written for the last ``keep_s`` seconds, per load group, so
    that arrivals due in a written second (late ones) rewrite its point with all of them:
    InfluxDB keeps the last value of each field of a point, so a point of the late ones
    alone would replace the second's figures with a part of them.

        >>> seconds = ArrivalSeconds(keep_s=60)
        >>> seconds.note(Second(t=100, arrivals=(ArrivalSecond.from_lags(100, "w", [1.0]),)))
        >>> whole = seconds.amended(ArrivalSecond.from_lags(100, "w", [2.0, 3.0]))
        >>> whole.started, seconds.amended(ArrivalSecond(t=10, group="w", due=1, dropped=1))
        (3, None)
    """

    def __init__(self, keep_s: int = 120) -> None:
        self.keep_s = keep_s
        self._held: dict[tuple[int, str], ArrivalSecond] = {}
        self._latest_t: int | None = None

    def note(self, second: Second) -> None:
        """Remember the arrivals written with ``second``; forget those past ``keep_s``."""
        for record in second.arrivals:
            self._held[(record.t, record.group)] = record
        self._latest_t = max(second.t, self._latest_t or second.t)
        oldest = self._latest_t - self.keep_s
        for key in [k for k in self._held if k[0] < oldest]:
            del self._held[key]

    def amended(self, record: ArrivalSecond) -> ArrivalSecond | None:
        """Its second's arrivals with ``record`` added: what to write again. ``None`` when
        the second is older than ``keep_s`` (its point stays as it was: the timeline and
        the report have every arrival)."""
        key = (record.t, record.group)
        held = self._held.get(key)
        if held is None and (self._latest_t is None or record.t < self._latest_t - self.keep_s):
            return None
        whole = held.combine(record) if held is not None else record
        self._held[key] = whole
        return whole


def _percentiles(
    groups: Sequence[Sequence[RequestSecond]], blobs: list[str], owner: list[int]
) -> dict[int, list[float | None]]:
    """Each group's p50/p90/p95/p99/max in µs, every histogram decoded in one pass."""
    if not blobs:
        return {}
    indptr, index, counts = decode_buckets(blobs)
    found: dict[int, list[float | None]] = {}
    owners = np.asarray(owner)
    for i in range(len(groups)):
        rows = np.flatnonzero(owners == i)
        if rows.size == 0:
            continue
        if rows.size == 1:
            lo, hi = indptr[rows[0]], indptr[rows[0] + 1]
            hist = SparseHistogram(index[lo:hi], counts[lo:hi], LAYOUT)
        else:
            parts = [np.arange(indptr[r], indptr[r + 1]) for r in rows]
            at = np.concatenate(parts)
            summed = np.bincount(index[at], weights=counts[at]).astype(np.int64)
            nonzero = np.flatnonzero(summed)
            hist = SparseHistogram(nonzero, summed[nonzero], LAYOUT)
        found[i] = percentiles_us(hist, _LEVELS)
    return found


# -- the buffer -----------------------------------------------------------------------------


class PointBuffer:
    """Points waiting to be written, at most ``bound`` of them; the oldest are dropped (and
    counted in ``dropped``) to make room, so a long outage keeps the latest points.

    Not thread-safe by itself: the sink holds a lock around every call.

        >>> buffer = PointBuffer(bound=3)
        >>> buffer.add(["a", "b"]); buffer.add(["c", "d"])
        0
        1
        >>> buffer.take(2), buffer.dropped
        (['b', 'c'], 1)
        >>> buffer.put_back(["b", "c"]); len(buffer)
        0
        3
    """

    def __init__(self, bound: int = BUFFER_POINTS) -> None:
        if bound < 1:
            raise ValueError(f"PointBuffer bound must be >= 1, got {bound}")
        self.bound = bound
        self.dropped = 0
        self._points: deque[str] = deque()

    def __len__(self) -> int:
        return len(self._points)

    def add(self, points: Iterable[str]) -> int:
        """Append points; returns how many old ones were dropped to make room."""
        self._points.extend(points)
        return self._trim()

    def take(self, limit: int) -> list[str]:
        """Remove and return up to ``limit`` of the oldest points."""
        n = min(limit, len(self._points))
        return [self._points.popleft() for _ in range(n)]

    def put_back(self, points: Sequence[str]) -> int:
        """Return points that could not be written to the front, oldest first; returns how
        many were dropped because newer points have filled the buffer meanwhile."""
        self._points.extendleft(reversed(points))
        return self._trim()

    def drop_all(self) -> int:
        """Give up on every point still held (the run has ended); returns how many."""
        n = len(self._points)
        self._points.clear()
        self.dropped += n
        return n

    def _trim(self) -> int:
        over = len(self._points) - self.bound
        for _ in range(max(0, over)):
            self._points.popleft()
        if over > 0:
            self.dropped += over
            return over
        return 0
