"""Writing a run timeline: ``TimelineWriter``, used by the master, the local runner and tests.

The format is ``docs/timeline.md``; ``framework.timeline.records`` holds the records written
here and ``framework.timeline.reader`` reads them back.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from framework.errors import RunError
from framework.timeline.codec import (
    HISTOGRAM_HIGHEST_US,
    HISTOGRAM_LOWEST_US,
    HISTOGRAM_SIGNIFICANT_DIGITS,
)
from framework.timeline.metric_records import MetricSecond
from framework.timeline.records import FORMAT, VERSION, ArrivalSecond, RequestSecond, Second

__all__ = ["WRITE_FAILURE_END", "TimelineWriter"]

WRITE_FAILURE_END = "; stopping the run"
"""How the log line ends in which a Locust process says the timeline could not be written
(``swarm: cannot write PATH: REASON; stopping the run``); ``swarm run`` reads it as the
run's failure."""


class TimelineWriter:
    """Appends a timeline file; used by the master, the local runner and synthetic tests.

    Lines are written whole and flushed to the OS on every ``flush``; ``fsync`` runs when
    ``sync_every_s`` has passed since the last one (times are passed in), so a machine crash
    loses at most that much. Refuses to overwrite an existing file: a run folder is evidence.

    When a write fails (a full disk), the file is cut back to its last whole line, so it
    stays readable, and ``RunError`` says which file and why (``failure`` keeps it); the
    writer writes nothing more, and ``close`` only closes the file.
    """

    def __init__(
        self,
        path: Path,
        *,
        created_s: float,
        source: str = "synthetic",
        grace_s: float | None = None,
        meta: Mapping[str, Any] | None = None,
        sync_every_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.sync_every_s = sync_every_s
        self.late_records = 0
        self.late_requests = 0
        self.failure: RunError | None = None
        self._pending: list[bytes] = []
        self._size = 0  # bytes of whole lines on disk
        try:
            self._file = self.path.open("xb", buffering=0)
        except FileExistsError as exc:
            raise RunError(
                f"{self.path}: a timeline already exists; refusing to overwrite", path=self.path
            ) from exc
        header = {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "created_s": created_s,
            "source": source,
            "second": "completion",
            "grace_s": grace_s,
            "histogram": {
                "unit": "us",
                "lowest": HISTOGRAM_LOWEST_US,
                "highest": HISTOGRAM_HIGHEST_US,
                "significant_digits": HISTOGRAM_SIGNIFICANT_DIGITS,
                "encoding": "hdrhistogram-v2-deflate-base64",
            },
            "meta": dict(meta or {}),
        }
        self._last_sync_s = created_s
        self._write([header])
        self.flush(None)  # the header is on disk before the first request

    def write_second(self, second: Second) -> None:
        """Append a closed second: its ``req`` lines, its ``arr`` lines (open-model
        arrivals due in it), its ``met`` lines (custom metrics), then the ``sec`` line
        that closes it."""
        lines: list[Mapping[str, Any]] = []
        for r in second.requests:
            lines.append({"type": "req", **r.to_record()})
        for a in second.arrivals:
            lines.append({"type": "arr", **a.to_record()})
        for m in second.metrics:
            lines.append({"type": "met", **m.to_record()})
        lines.append(
            {"type": "sec", "t": second.t, "users": second.users, "workers": second.workers}
            | ({"cpu": second.cpu_percent} if second.cpu_percent is not None else {})
            | ({"paused": True} if second.paused else {})
            | ({"active": dict(second.active)} if second.active else {})
        )
        self._write(lines)

    def write_late(self, record: RequestSecond) -> None:
        """Append a correction for a second already written; readers add it into that second."""
        self.late_records += 1
        self.late_requests += record.count
        self._write([{"type": "late", **record.to_record()}])

    def write_late_arrival(self, record: ArrivalSecond) -> None:
        """Append arrivals due in a second already written (``"late": true``); readers add
        them into that second's arrivals of the same group."""
        self.late_records += 1
        self._write([{"type": "arr", **record.to_record(), "late": True}])

    def write_late_metric(self, record: MetricSecond) -> None:
        """Append custom-metric data of a second already written (``"late": true``);
        readers add it into that second's record of the same metric and dimensions."""
        self.late_records += 1
        self._write([{"type": "met", **record.to_record(), "late": True}])

    def flush(self, now_s: float | None = None) -> None:
        """Hand buffered lines to the OS; fsync too if due (or always when ``now_s`` is None).

        Raises ``RunError`` (file and reason) if the lines cannot be written.
        """
        if self.failure is not None:
            raise self.failure
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            view = memoryview(data)
            while view:  # a raw write may write less than it was given
                written = self._file.write(view)
                if not written:
                    raise OSError(errno.EIO, "the file took no bytes")
                view = view[written:]
            self._size += len(data)
            if now_s is None or now_s - self._last_sync_s >= self.sync_every_s:
                os.fsync(self._file.fileno())
                if now_s is not None:
                    self._last_sync_s = now_s
        except OSError as exc:
            self._fail(exc)

    def close(self, *, ended_s: float | None = None, reason: str = "closed") -> None:
        """Write the ``end`` line (it marks the run as complete), fsync and close.

        After a failed write it only closes the file; a failure of the ``end`` line itself
        is raised as ``RunError`` once the file is closed.
        """
        if self._file.closed:
            return
        try:
            if self.failure is None:
                end = {
                    "type": "end",
                    "t_s": ended_s,
                    "reason": reason,
                    "late_records": self.late_records,
                    "late_requests": self.late_requests,
                }
                self._write([end])
                self.flush(None)
        finally:
            self._file.close()

    def _fail(self, exc: OSError) -> None:
        """Cut the file back to its last whole line, remember why, and raise it."""
        with contextlib.suppress(OSError):  # truncating frees space; a device may refuse it
            os.ftruncate(self._file.fileno(), self._size)
            os.lseek(self._file.fileno(), self._size, os.SEEK_SET)
        reason = exc.strerror or str(exc)
        self.failure = RunError(
            f"cannot write {self.path}: {reason[:1].lower()}{reason[1:]}", path=self.path
        )
        raise self.failure from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(reason="closed" if exc is None else f"error: {type(exc).__name__}")

    def _write(self, objects: Iterable[Mapping[str, Any]]) -> None:
        if self.failure is not None:
            raise self.failure
        text = "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objects)
        self._pending.append(text.encode("utf-8"))
