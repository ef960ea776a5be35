"""The timeline writer on a disk that fills up: a clear error, and a file still readable.

The failures are real ones of the operating system: ``/dev/full`` answers every write with
ENOSPC, and ``RLIMIT_FSIZE`` (with SIGXFSZ ignored, so the process is not killed) cuts a
write off part way, as a disk that fills in the middle of a line does.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from framework.errors import RunError
from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME, RequestSecond, Second
from framework.timeline.writer import TimelineWriter

DEV_FULL = Path("/dev/full")


def _second(t: int, n: int = 50) -> Second:
    latencies = [float(i % 97) + 0.5 for i in range(n)]
    return Second(
        t=t,
        users=3,
        workers=1,
        requests=(RequestSecond.from_latencies(t, "GET", "/ok", latencies),),
    )


@contextlib.contextmanager
def _file_size_limit(limit_bytes: int) -> Iterator[None]:
    """Every write of this process past ``limit_bytes`` of a file fails with EFBIG."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


@pytest.mark.skipif(not DEV_FULL.exists(), reason="/dev/full is not available here")
def test_a_full_disk_is_a_run_error_naming_the_file_and_no_space_left(tmp_path):
    path = tmp_path / FILE_NAME
    writer = TimelineWriter(path, created_s=100.0)
    writer.write_second(_second(100))
    writer.flush(100.0)
    full = os.open(DEV_FULL, os.O_WRONLY)
    try:
        os.dup2(full, writer._file.fileno())  # the same file object now writes to a full device
    finally:
        os.close(full)
    writer.write_second(_second(101))
    with pytest.raises(RunError) as caught:
        writer.flush(101.0)
    assert str(caught.value) == f"cannot write {path}: no space left on device"
    assert caught.value.path == path
    assert writer.failure is caught.value
    with pytest.raises(RunError, match="no space left on device"):
        writer.write_second(_second(102))  # nothing more is written, and it says why
    writer.close(ended_s=103.0)  # only closes: the end line would fail the same way
    assert writer._file.closed


def test_a_write_cut_off_part_way_is_taken_back_to_the_last_whole_line(tmp_path):
    path = tmp_path / FILE_NAME
    writer = TimelineWriter(path, created_s=100.0)
    writer.write_second(_second(100))
    writer.flush(100.0)
    whole = path.stat().st_size
    for t in range(101, 120):
        writer.write_second(_second(t))
    with _file_size_limit(whole + 700), pytest.raises(RunError) as caught:
        writer.flush(120.0)  # the first part of the batch is written, then the limit
    assert str(caught.value) == f"cannot write {path}: file too large"
    assert path.stat().st_size == whole
    writer.close(ended_s=121.0)
    timeline = read_timeline(path)
    assert (timeline.truncated, timeline.complete, timeline.damaged_records) == (False, False, 0)
    assert [s.t for s in timeline.seconds] == [100]
    assert timeline.total("GET /ok").count == 50


def test_a_failed_end_line_is_raised_after_the_file_is_closed(tmp_path):
    path = tmp_path / FILE_NAME
    writer = TimelineWriter(path, created_s=100.0)
    writer.write_second(_second(100))
    writer.flush(100.0)
    with _file_size_limit(path.stat().st_size), pytest.raises(RunError, match="file too large"):
        writer.close(ended_s=101.0)
    assert writer._file.closed
    assert read_timeline(path).seconds[0].t == 100
