"""The progress thread of ``swarm run``: what reaches the terminal, how often, and its end."""

from __future__ import annotations

import io
import threading
import time

import pytest

from framework.errors import UsageError
from framework.plan.shapes import constant
from framework.run.progress import LocustLogFilter, TerminalProgress, progress_interval_s
from framework.timeline.records import FILE_NAME, RequestSecond, Second
from framework.timeline.writer import TimelineWriter

DEADLINE_S = 10.0
T0 = 1_700_000_000
INFO = "[2026-12-06 01:00:00,000] vm/INFO/locust.runners: Ramping to 5 users\n"
WARNING = "[2026-12-06 01:00:01,000] vm/WARNING/root: CPU usage above 90%!\n"
ERROR = "[2026-12-06 01:00:02,000] vm/ERROR/locust.user.task: boom\n"


def test_on_a_terminal_only_warnings_errors_and_tracebacks_get_through():
    shows = LocustLogFilter().shows
    lines = [
        INFO,
        "Type     Name     # reqs\n",  # Locust's closing table continues an INFO record
        WARNING,
        ERROR,
        "Traceback (most recent call last):\n",  # a logged exception continues the ERROR
        '  File "x.py", line 1\n',
        INFO,
        "Traceback (most recent call last):\n",  # a crash outside logging
        "RuntimeError: gone\n",
        "[2026-12-06 01:00:03,000] vm/DEBUG/x: detail\n",
    ]
    assert [shows(line) for line in lines] == [
        False,
        False,
        True,
        True,
        True,
        True,
        False,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(("raw", "value"), [(None, 10.0), ("", 10.0), ("2", 2.0), ("0.5", 0.5)])
def test_progress_interval_comes_from_the_environment(raw, value):
    environ = {} if raw is None else {"SWARM_PROGRESS_INTERVAL_S": raw}
    assert progress_interval_s(environ) == value


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "nan", "inf", "1e9"])
def test_a_bad_progress_interval_is_refused_with_the_variable_named(raw):
    with pytest.raises(UsageError, match=r"SWARM_PROGRESS_INTERVAL_S=.*0\.1 to 86400"):
        progress_interval_s({"SWARM_PROGRESS_INTERVAL_S": raw})


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE_S} s"
        time.sleep(0.02)


def _progress(tmp_path, out, **kwargs) -> TerminalProgress:
    return TerminalProgress(
        run_dir=tmp_path,
        plan=constant(users=3, spawn_rate=3, duration_s=60),
        out=out,
        scenario="unit",
        live=False,
        clock=lambda: T0 + 10.2,
        **kwargs,
    )


def test_without_a_terminal_lines_come_every_interval_from_the_timeline(tmp_path):
    with TimelineWriter(tmp_path / FILE_NAME, created_s=T0) as writer:
        for i in range(5):
            record = RequestSecond.from_latencies(T0 + i, "GET", "/x", [5.0] * 20)
            writer.write_second(Second(t=T0 + i, users=3, workers=1, requests=(record,)))
    out = io.StringIO()
    progress = _progress(tmp_path, out, interval_s=0.1)
    progress.on_state("running", T0 + 0.1)
    progress.start()
    try:
        _wait_for(lambda: progress.lines_written >= 2, "two progress lines")
    finally:
        progress.stop()
    lines = [line for line in out.getvalue().splitlines() if line.startswith("swarm progress")]
    assert lines[-1].startswith("swarm progress 0:10/1:00 · steady · running · users 3")
    assert "20.0 rps · 100 req · 0.00% failed" in lines[-1]
    assert "\x1b" not in out.getvalue()  # plain text for logs


def test_without_a_terminal_locust_lines_are_echoed_whole_beside_progress_lines(tmp_path):
    out = io.StringIO()
    progress = _progress(tmp_path, out, interval_s=0.1)
    progress.start()
    try:
        for _ in range(50):
            progress.echo.write(INFO)
            progress.echo.flush()
        _wait_for(lambda: progress.lines_written >= 1, "a progress line")
    finally:
        progress.stop()
    text = out.getvalue().splitlines()
    assert text.count(INFO.rstrip("\n")) == 50
    assert all(line == INFO.rstrip("\n") or line.startswith("swarm progress") for line in text)


def test_stop_ends_the_thread_promptly_and_twice_is_harmless(tmp_path):
    progress = _progress(tmp_path, io.StringIO(), interval_s=10.0)
    progress.start()
    assert any(t.name == "swarm-progress" for t in threading.enumerate())
    started = time.monotonic()
    progress.stop()
    progress.stop()
    assert time.monotonic() - started < 3.0
    assert not any(t.name == "swarm-progress" for t in threading.enumerate())


def test_state_announcements_move_the_feed_and_wrong_ones_are_ignored(tmp_path):
    progress = _progress(tmp_path, io.StringIO())
    progress.on_state("running", T0 + 1.0)
    progress.on_state("running", T0 + 2.0)  # again: not a step it can take
    progress.on_state("exploded", T0 + 3.0)  # not a state
    progress.on_state("stopping", None)
    assert [t.state for t in progress.feed.run_state.history] == [
        "starting",
        "running",
        "stopping",
    ]


def test_announcements_stay_in_the_log_and_off_the_terminal(tmp_path):
    import io
    import sys

    from framework.live.announce import announcement
    from framework.run.processes import LoggedProcess
    from framework.run.runner import _not_announcement

    said = announcement("state", state="paused", at_s=1.0, reason=None)
    script = f"print('hello'); print({said!r}); print('bye')"
    shown = io.StringIO()
    child = LoggedProcess(
        "child",
        [sys.executable, "-c", script],
        log_path=tmp_path / "child.log",
        env={},
        echo=shown,
        echoes=_not_announcement,
    )
    assert child.wait(30) == 0
    assert shown.getvalue() == "hello\nbye\n"
    assert said in (tmp_path / "child.log").read_text()
