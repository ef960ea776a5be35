"""Reading a run timeline back: ``read_timeline`` -> ``framework.timeline.records.Timeline``.

Tolerates a cut-off last line (a crash mid-write), adds late corrections into their
second, and skips and counts damaged lines (``framework.timeline.validation`` says what a
sound line is): one bad line costs its own data, never the whole analysis. Only a file
that cannot be read, is not a swarm timeline or has an unknown version is a
``ReportError`` naming the file (and line).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from framework.errors import ReportError
from framework.limits import TIMELINE_BYTES, InputRefused, excerpt, read_bytes
from framework.timeline.codec import rows_from_blobs
from framework.timeline.gc_pause import collector_paused
from framework.timeline.histograms import BucketRows
from framework.timeline.metric_records import HISTOGRAM_KINDS, MetricSecond
from framework.timeline.records import (
    FORMAT,
    READABLE_VERSIONS,
    ArrivalSecond,
    DamagedLine,
    DecodedEndpoint,
    RequestSecond,
    Second,
    Timeline,
)
from framework.timeline.validation import (
    TimeBounds,
    arrival_problem,
    gauges_problem,
    histogram_totals,
    latency_count,
    metric_problem,
    request_problem,
    service_count,
)

__all__ = ["parse_record", "read_timeline"]


_NO_GAUGES: tuple[int | None, int | None, float | None, Mapping[str, int]] = (None, None, None, {})


def read_timeline(path: Path | str) -> Timeline:
    """Read a timeline file, tolerating a cut-off last line.

    Raises ``ReportError`` naming the file and line when the file is missing, is not a
    swarm timeline, or has a version this code does not read. Damaged lines after the
    header are skipped and counted in ``Timeline.damaged_records``.
    """
    with collector_paused():  # ~100k records an hour, in no reference cycle
        return _read_timeline(Path(path))


def _read_timeline(path: Path) -> Timeline:
    try:
        raw = read_bytes(path, TIMELINE_BYTES)
    except InputRefused as exc:
        raise ReportError(f"{path}: cannot read timeline: {exc}", path=path) from None
    except OSError as exc:
        raise ReportError(
            f"{path}: cannot read timeline: {exc.strerror or exc}", path=path
        ) from exc
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise ReportError(f"{path}: empty file; expected a swarm timeline header line", path=path)
    header = _parse_line(path, 1, lines[0], last=False)
    if header.get("format") != FORMAT:
        raise ReportError(
            f"{path}:1: not a swarm timeline (expected format {FORMAT!r}, "
            f"found {excerpt(repr(header.get('format')))})",
            path=path,
            line=1,
        )
    if header.get("version") not in READABLE_VERSIONS:
        raise ReportError(
            f"{path}:1: timeline format version {excerpt(repr(header.get('version')))} "
            "is not supported "
            f"(this swarm reads versions {', '.join(map(str, READABLE_VERSIONS))})",
            path=path,
            line=1,
        )

    bounds = TimeBounds.around(header.get("created_s"))
    damage = _Damage()
    gauges: dict[int, tuple[int | None, int | None, float | None, Mapping[str, int]]] = {}
    paused: set[int] = set()
    requests: list[tuple[int, str, dict[str, Any]]] = []  # (line number, type, object)
    arrivals: list[tuple[int, str, dict[str, Any]]] = []  # version 3: "arr" lines
    metrics: list[tuple[int, MetricSecond, bool]] = []  # version 4: "met" lines
    truncated = complete = False
    end: dict[str, Any] | None = None
    for number, line in enumerate(lines[1:], start=2):
        try:
            obj = _parse_line(path, number, line, last=number == len(lines))
        except _TruncatedLine:
            truncated = True
            break
        except _DamagedLine as exc:
            damage.add(number, str(exc))
            continue
        kind = obj.get("type")
        if kind in ("req", "late"):
            problem = request_problem(obj, bounds)
            if problem:
                damage.add(number, f"{kind}: {problem}")
            else:
                requests.append((number, kind, obj))
        elif kind == "sec":
            problem = gauges_problem(obj, bounds)
            if problem:
                damage.add(number, f"sec: {problem}")
            else:
                gauges[obj["t"]] = (
                    obj.get("users"),
                    obj.get("workers"),
                    obj.get("cpu"),
                    obj.get("active") or {},
                )
                if obj.get("paused"):
                    paused.add(obj["t"])
        elif kind == "arr":
            problem = arrival_problem(obj, bounds)
            if problem:
                damage.add(number, f"arr: {problem}")
            else:
                arrivals.append((number, "arr", obj))
        elif kind == "met":
            found = _metric(obj, bounds)
            if isinstance(found, str):
                damage.add(number, f"met: {found}")
            else:
                metrics.append((number, found, obj.get("late") is True))
        elif kind == "end":
            complete, end = True, obj
        # unknown types are skipped: version 1 readers accept additive extensions

    kept, decoded = _with_sound_histograms(requests, damage)
    cells: dict[tuple[int, str, str], RequestSecond] = {}
    late = 0
    for kind, obj in kept:
        r = RequestSecond.from_record(obj)
        k = (r.t, r.method, r.name)
        cells[k] = cells[k].combine(r) if k in cells else r
        late += kind == "late"
    groups: dict[tuple[int, str], ArrivalSecond] = {}
    for obj in _with_sound_lags(arrivals, damage):
        a = ArrivalSecond.from_record(obj)
        held = groups.get((a.t, a.group))
        groups[(a.t, a.group)] = held.combine(a) if held is not None else a
        late += obj.get("late") is True

    measured: dict[tuple[int, str, tuple[tuple[str, str], ...]], MetricSecond] = {}
    for m, is_late in _with_sound_metric_histograms(metrics, damage):
        k = (m.t, m.name, m.dims)
        measured[k] = measured[k].combine(m) if k in measured else m
        late += is_late

    by_second: dict[int, list[RequestSecond]] = {t: [] for t in gauges}
    for (t, _m, _n), r in cells.items():
        by_second.setdefault(t, []).append(r)
    due: dict[int, list[ArrivalSecond]] = {}
    for (t, _g), a in sorted(groups.items()):
        due.setdefault(t, []).append(a)
        by_second.setdefault(t, [])
    by_metric: dict[int, list[MetricSecond]] = {}
    for (t, _name, _dims), m in measured.items():
        by_metric.setdefault(t, []).append(m)
        by_second.setdefault(t, [])
    every = [
        Second(
            t=t,
            users=gauges.get(t, _NO_GAUGES)[0],
            workers=gauges.get(t, _NO_GAUGES)[1],
            cpu_percent=gauges.get(t, _NO_GAUGES)[2],
            requests=tuple(sorted(by_second[t], key=lambda r: r.key)),
            paused=t in paused,
            arrivals=tuple(due.get(t, ())),
            active=gauges.get(t, _NO_GAUGES)[3],
            metrics=tuple(sorted(by_metric.get(t, ()), key=lambda m: m.key)),
        )
        for t in sorted(by_second)
    ]
    # paused seconds are kept apart: no statistic read from ``seconds`` counts them
    seconds = tuple(s for s in every if not s.paused)
    if paused:
        decoded = {e: d for e, d in decoded.items() if paused.isdisjoint(d.times)}
    return Timeline(
        path=path,
        header=header,
        seconds=seconds,
        complete=complete,
        truncated=truncated,
        late_records=late,
        end=end,
        damaged_records=damage.count,
        damaged=tuple(damage.first),
        decoded_rows=_decoded_rows(seconds, decoded),
        paused=tuple(s for s in every if s.paused),
    )


class _Damage:
    """Damaged lines: how many, and the first ``_DAMAGE_SHOWN`` with their reasons."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[DamagedLine] = []

    def add(self, number: int, reason: str) -> None:
        self.count += 1
        if len(self.first) < _DAMAGE_SHOWN:
            self.first.append(DamagedLine(number, reason))


_DAMAGE_SHOWN = 10


def _with_sound_histograms(
    requests: list[tuple[int, str, dict[str, Any]]], damage: _Damage
) -> tuple[list[tuple[str, dict[str, Any]]], dict[tuple[str, str], DecodedEndpoint]]:
    """The request lines whose histograms decode and hold exactly their latencies: ``hist``
    the successful requests' (every request's in version 1), ``fail_hist`` the failed ones'.

    Blobs are decoded per endpoint, in one batch each; the ``hist`` batches of endpoints
    whose every line is a sound ``req`` line of its own second are returned too, as
    ``Timeline.decoded_rows``: the analysis then reads them without decoding again.
    """
    refused: set[int] = set()
    decoded: dict[tuple[str, str], DecodedEndpoint] = {}
    for endpoint, items in _by_endpoint(requests, "hist").items():
        blobs = [obj["hist"] for _n, _k, obj in items]
        batch = _check_blobs(items, blobs, latency_count, _HIST, damage, refused)
        times = [obj["t"] for _n, _k, obj in items]
        if (
            batch is not None
            and not refused.intersection(n for n, _k, _o in items)
            and all(k == "req" for _n, k, _o in items)
            and all(a < b for a, b in itertools.pairwise(times))
        ):
            decoded[endpoint] = DecodedEndpoint(times=times, blobs=blobs, buckets=batch)
    for items in _by_endpoint(requests, "fail_hist").values():
        blobs = [obj["fail_hist"] for _n, _k, obj in items]
        _check_blobs(items, blobs, _failed, "its failure histogram", damage, refused)
    for items in _by_endpoint(requests, "svc_hist").values():
        blobs = [obj["svc_hist"] for _n, _k, obj in items]
        _check_blobs(items, blobs, service_count, "its service histogram", damage, refused)
    kept = [(kind, obj) for number, kind, obj in requests if number not in refused]
    return kept, decoded


def _with_sound_lags(
    arrivals: list[tuple[int, str, dict[str, Any]]], damage: _Damage
) -> list[dict[str, Any]]:
    """The ``arr`` lines whose lag histogram decodes and holds exactly their started
    arrivals, in one decoding batch; the others are counted as damaged."""
    refused: set[int] = set()
    items = [item for item in arrivals if item[2].get("lag_hist")]
    blobs = [obj["lag_hist"] for _n, _k, obj in items]
    _check_blobs(items, blobs, _started, _LAGS, damage, refused)
    return [obj for number, _k, obj in arrivals if number not in refused]


def _metric(obj: dict[str, Any], bounds: TimeBounds) -> MetricSecond | str:
    """A ``met`` line's record, or why it is damaged."""
    problem = metric_problem(obj, bounds)
    if problem:
        return problem
    try:
        return MetricSecond.from_record(obj)
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, KeyError):
            return f"field {exc} is missing"
        return str(exc)


def _with_sound_metric_histograms(
    metrics: list[tuple[int, MetricSecond, bool]], damage: _Damage
) -> list[tuple[MetricSecond, bool]]:
    """The ``met`` records whose histogram (histogram and timer kinds) decodes and holds
    exactly ``count`` values, in one decoding batch; the others are counted as damaged."""
    refused: set[int] = set()
    items = [item for item in metrics if item[1].kind in HISTOGRAM_KINDS and item[1].hist_blobs]
    totals, _batch = histogram_totals([m.hist_blobs[0] for _n, m, _l in items])
    for (number, m, _late), total in zip(items, totals, strict=True):
        if isinstance(total, str):
            damage.add(number, f"met: {total}")
            refused.add(number)
        elif total != m.count:
            damage.add(number, f"met: count {m.count} but {total} in its histogram")
            refused.add(number)
    for number, m, _late in metrics:
        if m.kind in HISTOGRAM_KINDS and not m.hist_blobs and m.count:
            damage.add(number, f"met: count {m.count} but no histogram")
            refused.add(number)
    return [(m, is_late) for number, m, is_late in metrics if number not in refused]


def _started(obj: Mapping[str, Any]) -> int:
    return obj.get("started", 0)


def _by_endpoint(
    requests: list[tuple[int, str, dict[str, Any]]], field: str
) -> dict[tuple[str, str], list[tuple[int, str, dict[str, Any]]]]:
    """The lines that carry a ``field`` histogram, by endpoint, in file order."""
    found: dict[tuple[str, str], list[tuple[int, str, dict[str, Any]]]] = {}
    for item in requests:
        obj = item[2]
        if obj.get(field):
            found.setdefault((obj["method"], obj["name"]), []).append(item)
    return found


def _check_blobs(
    items: list[tuple[int, str, dict[str, Any]]],
    blobs: list[str],
    expected: Callable[[dict[str, Any]], int],
    what: str,
    damage: _Damage,
    refused: set[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Refuse each line whose blob (``what``) does not decode or holds other than
    ``expected(line)`` latencies; return the batch decoded (``None`` when some did not)."""
    totals, batch = histogram_totals(blobs)
    for (number, kind, obj), total in zip(items, totals, strict=True):
        wanted = expected(obj)
        if isinstance(total, str):
            damage.add(number, f"{kind}: {total}" if what == _HIST else f"{kind}: {what}: {total}")
            refused.add(number)
        elif total != wanted:
            held = "count" if what == _HIST and "fail_sum_us" not in obj else "latencies"
            held = "started" if what == _LAGS else held
            damage.add(number, f"{kind}: {held} {wanted} but {total} in {what}")
            refused.add(number)
    return batch


_HIST = "its histogram"
_LAGS = "its lag histogram"


def _failed(obj: Mapping[str, Any]) -> int:
    return sum((obj.get("failures") or {}).values())


def _decoded_rows(
    seconds: tuple[Second, ...], decoded: Mapping[tuple[str, str], DecodedEndpoint]
) -> dict[tuple[str, str], BucketRows]:
    """Each endpoint's decoded batch as its bucket rows over the whole run: exactly what
    ``TimelineColumns`` would decode from the records."""
    times = np.array([s.t for s in seconds], dtype=np.int64)
    return {
        endpoint: rows_from_blobs(
            np.searchsorted(times, np.asarray(found.times, dtype=np.int64)),
            found.blobs,
            len(seconds),
            narrow=True,
            decoded=found.buckets,
        )
        for endpoint, found in decoded.items()
    }


class _DamagedLine(Exception):
    """A line that is not a JSON object: a private signal to skip and count it."""


class _TruncatedLine(Exception):
    """The last line is cut off: the writer crashed mid-line.

    A private signal: ``_read_timeline`` catches it and marks the timeline truncated.
    """


def _parse_line(path: Path, number: int, line: bytes, *, last: bool) -> dict[str, Any]:
    try:
        return parse_record(line)
    except ValueError as exc:
        if last:
            raise _TruncatedLine from exc
        if number == 1:
            raise ReportError(f"{path}:1: corrupt line: {exc}", path=path, line=1) from exc
        raise _DamagedLine(str(exc)) from exc


def parse_record(line: bytes) -> dict[str, Any]:
    """One timeline line as its JSON object; ``ValueError`` says why it is not one.

    Shared by this reader and the live tail (``framework.live.timeline_tail``), so both
    read a line alike.
    """
    try:
        obj = orjson.loads(line)  # a third of json's time, on a file of ~100k lines an hour
    except orjson.JSONDecodeError:
        try:
            obj = json.loads(line)  # also reads integers past 64 bits, which orjson refuses
        except (ValueError, RecursionError) as exc:  # nested past orjson's 1024 levels
            raise ValueError(f"not JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, found {type(obj).__name__}")
    return obj
