"""The terminal progress of real headless runs: piped (CI lines), ``--quiet``, a pseudo-terminal
(the live display), ``--workers 2``, Ctrl-C and a master that dies.

Every run is short (a 6–8 s plan against a recording server); the CI line interval is set
to 1 s through ``SWARM_PROGRESS_INTERVAL_S`` so a short run prints several lines. The lines'
figures are checked against the run's own timeline: the progress reads the closed seconds
the master writes, so its request count is exactly the sum over the first seconds of the
file and its rps the count of the last ten of those over their number.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
RUN_DEADLINE_S = 60.0
LINE = re.compile(r"^swarm progress .*$", re.MULTILINE)

SCENARIO = """
    name: progress {label}
    host: {url}
    users:
      - name: caller
        think_time: {{fixed_ms: 20}}
        requests:
          - {{name: check, path: /ok}}
{extra_users}    load: {{shape: constant, users: 2, spawn_rate: 10, duration: {duration}}}
    budgets:
      overall: {{p95_ms: 5000, error_rate: 50%}}
"""


@pytest.fixture(scope="module")
def target():
    with RecordingServer() as server:
        yield server


WRITERS = """\
      - name: writers
        requests:
          - {{name: write, path: /ok}}
        load: {{model: open, shape: constant, rate: {rate}, duration: {duration}}}
"""


def _scenario(
    folder: Path, url: str, label: str, duration: str = "8s", extra_users: str = ""
) -> Path:
    path = folder / "scenario.yaml"
    text = SCENARIO.format(label=label, url=url, duration=duration, extra_users=extra_users)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_HOST", "FORCE_COLOR")}
    return {**env, "PYTHONUNBUFFERED": "1", "SWARM_PROGRESS_INTERVAL_S": "1", **extra}


def _command(scenario: Path, folder: Path, run_id: str, *extra: str) -> list[str]:
    out = folder / "reports"
    return [str(SWARM), "run", str(scenario), "--out", str(out), "--run-id", run_id, *extra]


def _piped_run(children, folder: Path, scenario: Path, label: str, *extra: str):
    run_id = f"{label}-{uuid.uuid4().hex[:10]}"
    with (folder / "stdout").open("w") as stdout, (folder / "stderr").open("w") as stderr:
        child = children.start(
            _command(scenario, folder, run_id, *extra),
            marker=run_id,
            cwd=folder,
            env=_env(),
            stdout=stdout,
            stderr=stderr,
        )
    code = child.wait(timeout=RUN_DEADLINE_S)
    return code, (folder / "stdout").read_text(), folder / "reports" / run_id


def _closed_seconds(run_dir: Path) -> list[tuple[int, int]]:
    """Each second of the timeline in the order it was closed: (t, requests in its req
    lines). Late corrections are left out: the progress, like the master's feed, never
    adds them."""
    counts: dict[int, int] = {}
    closed = []
    for line in (run_dir / "timeline.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "req":
            counts[record["t"]] = counts.get(record["t"], 0) + record["count"]
        elif record.get("type") == "sec":
            closed.append((record["t"], counts.pop(record["t"], 0)))
    return closed


def _matches_a_prefix(line: str, closed: list[tuple[int, int]]) -> bool:
    """Whether the line's ``N req`` and ``R rps`` are those of the first k closed seconds
    for some k: N their total, R the last min(10, k) seconds' total over their number."""
    total = int(re.search(r"· (\d+) req ·", line).group(1))
    rps = float(re.search(r"· ([\d.]+) rps ·", line).group(1))
    running = 0
    for k, (_t, count) in enumerate(closed, start=1):
        running += count
        if running == total:
            window = [c for _t, c in closed[max(0, k - 10) : k]]
            if abs(rps - sum(window) / len(window)) <= 0.05 + 1e-9:
                return True
    return False


def test_piped_run_prints_progress_lines_with_the_timelines_figures(
    tmp_path, child_processes, target
):
    scenario = _scenario(tmp_path, target.url, "piped")
    code, stdout, run_dir = _piped_run(child_processes, tmp_path, scenario, "piped")
    assert code == 0, stdout[-2000:]
    lines = LINE.findall(stdout)
    measured = [line for line in lines if " req · " in line]
    assert measured, stdout[-3000:]
    closed = _closed_seconds(run_dir)
    for line in measured:
        assert _matches_a_prefix(line, closed), (line, closed)
        assert re.search(r"· users [012] · workers 1 ·", line)  # 0 once the users stop
        assert re.search(r"· budgets: \d+ (passing|at risk|failing)", line)
        assert re.search(r"· \d+:\d\d left$", line)
    assert any(" · steady · running · " in line for line in measured)
    assert "\x1b" not in stdout  # plain text in a log
    assert "Ramping to 2 users" in stdout  # Locust's log is still echoed without a terminal
    assert "Ramping to 2 users" in (run_dir / "locust.log").read_text()


def test_quiet_run_prints_no_progress_line(tmp_path, child_processes, target):
    scenario = _scenario(tmp_path, target.url, "quiet", duration="4s")
    code, stdout, run_dir = _piped_run(child_processes, tmp_path, scenario, "quiet", "--quiet")
    assert code == 0, stdout[-2000:]
    assert LINE.findall(stdout) == []
    assert "Ramping to 2 users" in stdout  # --quiet turns off the progress, not the echo
    assert (run_dir / "timeline.jsonl").exists()


def _arrivals(run_dir: Path) -> tuple[int, int]:
    """The timeline's arrivals of every ``arr`` line, late ones included: (started, dropped)."""
    started = dropped = 0
    for line in (run_dir / "timeline.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "arr":
            started += record["started"]
            dropped += record["dropped"]
    return started, dropped


def test_two_worker_run_shows_two_workers_and_the_open_groups_arrivals(
    tmp_path, child_processes, target
):
    """Two workers share a closed group and an open one (10 arrivals/s): each progress line
    shows the open group's achieved rate against the plan's, its lag p99 and its drops."""
    writers = WRITERS.format(rate=10, duration="8s")
    scenario = _scenario(tmp_path, target.url, "workers", extra_users=writers)
    code, stdout, run_dir = _piped_run(
        child_processes, tmp_path, scenario, "workers", "--workers", "2"
    )
    assert code == 0, stdout[-2000:]
    measured = [line for line in LINE.findall(stdout) if " req · " in line]
    assert measured, stdout[-3000:]
    assert any("· workers 2 ·" in line for line in measured), measured
    closed = _closed_seconds(run_dir)
    assert all(_matches_a_prefix(line, closed) for line in measured), (measured, closed)
    shown = re.compile(r"· writers ([\d.]+)/([\d.]+) arr/s, lag p99 ([\d.]+|–) ms, (\d+) dropped ·")
    found = [shown.search(line) for line in measured]
    assert all(found), measured
    # the planned rate is the plan's mean over the shown stretch: 10 arrivals a second
    # inside the plan, less where the stretch reaches before its start or after its end
    assert all(0 < float(m.group(2)) <= 10.0 for m in found), measured
    assert any(float(m.group(1)) > 0 for m in found), measured
    started, dropped = _arrivals(run_dir)
    assert started > 0
    # drops shown are the run so far's: never more than the timeline's, all of them at last
    assert all(int(m.group(4)) <= dropped for m in found), (measured, dropped)


# --- a pseudo-terminal --------------------------------------------------------------------

ELAPSED = re.compile(rb"swarm \xc2\xb7 progress tty \xc2\xb7 (\d+:\d\d)/0:08")


def _tty_run(children, folder: Path, scenario: Path, run_id: str, *, interrupt_after: str = ""):
    """Run swarm with stdout and stderr on a pseudo-terminal; return (exit code, bytes).

    With ``interrupt_after``, SIGINT goes to swarm once that text has been shown."""
    parent_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    try:
        child = children.start(
            _command(scenario, folder, run_id),
            marker=run_id,
            cwd=folder,
            env=_env(TERM="xterm-256color"),
            stdout=child_fd,
            stderr=child_fd,
        )
    finally:
        os.close(child_fd)
    seen = b""
    interrupted = False
    deadline = time.monotonic() + RUN_DEADLINE_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([parent_fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(parent_fd, 65536)
                except OSError:  # EIO: every writer of the terminal has gone
                    break
                if not chunk:
                    break
                seen += chunk
            if interrupt_after and not interrupted and interrupt_after.encode() in seen:
                child.send_signal(signal.SIGINT)
                interrupted = True
            if child.poll() is not None and not ready:
                break
        code = child.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(parent_fd)
    return code, seen


def test_on_a_terminal_the_live_display_refreshes_and_hides_locusts_info_lines(
    tmp_path, child_processes, target
):
    scenario = _scenario(tmp_path, target.url, "tty")
    run_id = f"tty-{uuid.uuid4().hex[:10]}"
    code, seen = _tty_run(child_processes, tmp_path, scenario, run_id)
    assert code == 0, seen[-3000:]
    shown = [m.decode() for m in ELAPSED.findall(seen)]
    assert len(set(shown)) >= 3, shown  # the elapsed time moved on, refreshed live
    assert b"\x1b[" in seen  # the display redraws itself in place
    assert b"run so far" in seen and b"budget overall p95_ms" in seen
    assert b"Ramping to 2 users" not in seen  # Locust's INFO lines stay in locust.log
    assert b"Ramping to 2 users" in (tmp_path / "reports" / run_id / "locust.log").read_bytes()
    assert b"swarm progress" not in seen  # no CI lines on a terminal
    assert seen.rfind(b"run so far") < seen.find(b"swarm: run finished")  # then the summary


def test_ctrl_c_on_a_terminal_ends_the_display_and_leaves_an_interrupted_run(
    tmp_path, child_processes, target
):
    scenario = _scenario(tmp_path, target.url, "tty", duration="60s")
    run_id = f"tty-int-{uuid.uuid4().hex[:10]}"
    code, seen = _tty_run(
        child_processes, tmp_path, scenario, run_id, interrupt_after="run so far ("
    )
    assert code == 130, seen[-3000:]
    assert b"SIGINT, stopping locust" in seen
    assert b"\x1b[?25h" in seen  # the cursor is shown again
    assert b" \xc2\xb7 interrupted \xc2\xb7 " in seen  # the display's last state says how it ended
    record = json.loads((tmp_path / "reports" / run_id / "run.json").read_text())
    assert record["status"] == "interrupted"


def test_a_dead_master_ends_the_run_and_its_progress(tmp_path, child_processes, target):
    scenario = _scenario(tmp_path, target.url, "dead", duration="60s")
    run_id = f"dead-{uuid.uuid4().hex[:10]}"
    with (tmp_path / "stdout").open("w") as stdout:
        child = child_processes.start(
            _command(scenario, tmp_path, run_id),
            marker=run_id,
            cwd=tmp_path,
            env=_env(),
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
    out = tmp_path / "stdout"
    deadline = time.monotonic() + RUN_DEADLINE_S
    while " req · " not in out.read_text():
        assert time.monotonic() < deadline and child.poll() is None, out.read_text()[-2000:]
        time.sleep(0.1)
    masters = [p for p in child_processes.pids_with_marker(run_id) if p != child.pid]
    assert masters
    for pid in masters:
        os.kill(pid, signal.SIGKILL)
    code = child.wait(timeout=30)
    assert code == 3, out.read_text()[-2000:]
    record = json.loads((tmp_path / "reports" / run_id / "run.json").read_text())
    assert record["status"] == "failed"
