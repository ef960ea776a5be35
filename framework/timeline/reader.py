"""Reading a run timeline back: ``read_timeline`` -> ``framework.timeline.records.Timeline``.

Tolerates a cut-off last line (a crash mid-write) and adds late corrections into their
second; every other defect is a ``ReportError`` naming the file and line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from framework.errors import ReportError
from framework.timeline.gc_pause import collector_paused
from framework.timeline.records import (
    FORMAT,
    READABLE_VERSIONS,
    RequestSecond,
    Second,
    Timeline,
)

__all__ = ["read_timeline"]


_NO_GAUGES = (None, None, None)


def read_timeline(path: Path | str) -> Timeline:
    """Read a timeline file, tolerating a cut-off last line.

    Raises ``ReportError`` naming the file and line when the file is missing, is not a
    swarm timeline, has a version this code does not read, or is corrupt before its end.
    """
    with collector_paused():  # ~100k records an hour, in no reference cycle
        return _read_timeline(Path(path))


def _read_timeline(path: Path) -> Timeline:
    try:
        raw = path.read_bytes()
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
            f"found {header.get('format')!r})",
            path=path,
            line=1,
        )
    if header.get("version") not in READABLE_VERSIONS:
        raise ReportError(
            f"{path}:1: timeline format version {header.get('version')!r} is not supported "
            f"(this swarm reads versions {', '.join(map(str, READABLE_VERSIONS))})",
            path=path,
            line=1,
        )

    gauges: dict[int, tuple[int | None, int | None]] = {}
    cells: dict[tuple[int, str, str], RequestSecond] = {}
    truncated = complete = False
    late = 0
    end: dict[str, Any] | None = None
    for number, line in enumerate(lines[1:], start=2):
        is_last = number == len(lines)
        try:
            obj = _parse_line(path, number, line, last=is_last)
        except _TruncatedLine:
            truncated = True
            break
        kind = obj.get("type")
        try:
            if kind in ("req", "late"):
                r = RequestSecond.from_record(obj)
                k = (r.t, r.method, r.name)
                cells[k] = cells[k].combine(r) if k in cells else r
                late += kind == "late"
            elif kind == "sec":
                gauges[int(obj["t"])] = (obj.get("users"), obj.get("workers"), obj.get("cpu"))
            elif kind == "end":
                complete, end = True, obj
            # unknown types are skipped: version 1 readers accept additive extensions
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(
                f"{path}:{number}: malformed {kind!r} record: {exc!r}", path=path, line=number
            ) from exc

    by_second: dict[int, list[RequestSecond]] = {t: [] for t in gauges}
    for (t, _m, _n), r in cells.items():
        by_second.setdefault(t, []).append(r)
    seconds = tuple(
        Second(
            t=t,
            users=gauges.get(t, _NO_GAUGES)[0],
            workers=gauges.get(t, _NO_GAUGES)[1],
            cpu_percent=gauges.get(t, _NO_GAUGES)[2],
            requests=tuple(sorted(by_second[t], key=lambda r: r.key)),
        )
        for t in sorted(by_second)
    )
    return Timeline(
        path=path,
        header=header,
        seconds=seconds,
        complete=complete,
        truncated=truncated,
        late_records=late,
        end=end,
    )


class _TruncatedLine(Exception):
    """The last line is cut off: the writer crashed mid-line.

    A private signal: ``_read_timeline`` catches it and marks the timeline truncated.
    """


def _parse_line(path: Path, number: int, line: bytes, *, last: bool) -> dict[str, Any]:
    try:
        obj = orjson.loads(line)  # a third of json's time, on a file of ~100k lines an hour
    except orjson.JSONDecodeError:
        try:
            obj = json.loads(line)  # also reads integers past 64 bits, which orjson refuses
        except ValueError as exc:
            if last:
                raise _TruncatedLine from exc
            raise ReportError(
                f"{path}:{number}: corrupt line (not JSON): {exc}", path=path, line=number
            ) from exc
    if not isinstance(obj, dict):
        if last:
            raise _TruncatedLine
        raise ReportError(
            f"{path}:{number}: expected a JSON object, found {type(obj).__name__}",
            path=path,
            line=number,
        )
    return obj
