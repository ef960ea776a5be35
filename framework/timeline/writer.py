"""Writing a run timeline: ``TimelineWriter``, used by the master, the local runner and tests.

The format is ``docs/timeline.md``; ``framework.timeline.records`` holds the records written
here and ``framework.timeline.reader`` reads them back.
"""

from __future__ import annotations

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
from framework.timeline.records import FORMAT, VERSION, RequestSecond, Second

__all__ = ["TimelineWriter"]


class TimelineWriter:
    """Appends a timeline file; used by the master, the local runner and synthetic tests.

    Lines are written whole and flushed to the OS on every ``flush``; ``fsync`` runs when
    ``sync_every_s`` has passed since the last one (times are passed in), so a machine crash
    loses at most that much. Refuses to overwrite an existing file: a run folder is evidence.
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
        try:
            self._file = self.path.open("x", encoding="utf-8")
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
        """Append a closed second: its ``req`` lines, then the ``sec`` line that closes it."""
        lines: list[Mapping[str, Any]] = []
        for r in second.requests:
            lines.append({"type": "req", **r.to_record()})
        lines.append(
            {"type": "sec", "t": second.t, "users": second.users, "workers": second.workers}
            | ({"cpu": second.cpu_percent} if second.cpu_percent is not None else {})
        )
        self._write(lines)

    def write_late(self, record: RequestSecond) -> None:
        """Append a correction for a second already written; readers add it into that second."""
        self.late_records += 1
        self.late_requests += record.count
        self._write([{"type": "late", **record.to_record()}])

    def flush(self, now_s: float | None = None) -> None:
        """Hand buffered lines to the OS; fsync too if due (or always when ``now_s`` is None)."""
        self._file.flush()
        if now_s is None or now_s - self._last_sync_s >= self.sync_every_s:
            os.fsync(self._file.fileno())
            if now_s is not None:
                self._last_sync_s = now_s

    def close(self, *, ended_s: float | None = None, reason: str = "closed") -> None:
        """Write the ``end`` line (it marks the run as complete), fsync and close."""
        if self._file.closed:
            return
        end = {
            "type": "end",
            "t_s": ended_s,
            "reason": reason,
            "late_records": self.late_records,
            "late_requests": self.late_requests,
        }
        self._write([end])
        self.flush(None)
        self._file.close()

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
        self._file.write("".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objects))
