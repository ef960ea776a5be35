"""Faults end in a clear message and the right exit code, never in a traceback.

- a clean ``swarm run --workers 2`` prints no ERROR and no Traceback anywhere (swarm's own
  output, the master's and the workers' logs);
- a wrong analysis flag stops ``swarm run`` / ``swarm demo`` with exit 2 before anything
  starts: no run folder, no request at the target;
- a disk that fills up during a run (a small tmpfs, filled once the run is running) ends it
  with exit 3, run.json ``failed`` with the file and "no space left on device", and no
  ``.tmp`` left behind.

Every run targets a recording server on 127.0.0.1 and is bounded by deadlines; every
process started here is stopped at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RUN_DEADLINE_S = 60.0
START_DEADLINE_S = 45.0
FLAG_DEADLINE_S = 30.0
POLL_S = 0.1
TMPFS_SIZE = "8m"


def _scenario(folder: Path, url: str, seconds: int) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: faults
            host: {url}
            users:
              - name: caller
                think_time: {{fixed_ms: 20}}
                requests:
                  - {{name: ok, path: /ok, expect: {{status: 200}}}}
            load: {{shape: constant, users: 2, spawn_rate: 10, duration: {seconds}s}}
            """
        ),
        encoding="utf-8",
    )
    return path


def _swarm(children, args: list[str], folder: Path, run_id: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "framework.cli.main", *args]
    with (folder / "swarm.stdout").open("w") as out, (folder / "swarm.stderr").open("w") as err:
        return children.start(
            command,
            marker=run_id,
            cwd=folder,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=err,
        )


def _wait(child: subprocess.Popen[str], deadline_s: float) -> int:
    try:
        return child.wait(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"swarm still running after {deadline_s:g} s")


def _bad_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]


# --- a clean distributed run -----------------------------------------------------------------


def test_a_clean_distributed_run_prints_no_error_and_no_traceback(tmp_path, child_processes):
    run_id = f"clean-{uuid.uuid4().hex[:12]}"
    with RecordingServer() as server:
        scenario = _scenario(tmp_path, server.url, seconds=4)
        args = ["run", str(scenario), "--workers", "2", "--out", str(tmp_path / "reports")]
        child = _swarm(child_processes, [*args, "--run-id", run_id], tmp_path, run_id)
        code = _wait(child, RUN_DEADLINE_S)
        received = len(server.requests())
    run_dir = tmp_path / "reports" / run_id
    assert code == 0, (tmp_path / "swarm.stderr").read_text()
    assert received > 0
    outputs = [
        tmp_path / "swarm.stdout",
        tmp_path / "swarm.stderr",
        run_dir / "locust.log",
        run_dir / "worker-1.log",
        run_dir / "worker-2.log",
    ]
    assert all(p.exists() for p in outputs)
    found = {p.name: _bad_lines(p) for p in outputs}
    assert found == {p.name: [] for p in outputs}
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"


# --- analysis flags checked before the load ----------------------------------------------------

BAD_FLAGS = {
    "confidence above 1": (["--confidence", "2"], "--confidence: must be between 0 and 1"),
    "confidence of 0": (["--confidence", "0%"], "--confidence: must be between 0 and 1"),
    "confidence as text": (["--confidence", "high"], "--confidence: expected a fraction"),
    "min effect too large": (["--min-effect", "12"], "--min-effect: must be from 0"),
    "negative min effect": (["--min-effect=-0.1"], "--min-effect: must be from 0"),
    "warm-up not a duration": (["--warmup", "soon"], "--warmup: invalid duration"),
    "negative warm-up": (["--warmup=-5s"], "--warmup: duration must not be negative"),
    "unknown correction": (["--correction", "bonferroni"], "--correction: invalid choice"),
    "unknown inconclusive": (["--inconclusive", "maybe"], "--inconclusive: invalid choice"),
    "missing budgets file": (["--budgets", "nope.yaml"], "nope.yaml: cannot read budgets file"),
    "invalid budgets file": (["--budgets", "budgets.yaml"], "budgets.yaml"),
    "unknown baseline": (["--baseline", "no-such-run"], "no-such-run"),
    "no pinned baseline": (["--baseline", "pinned"], "pinned"),
}


@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_a_bad_analysis_flag_exits_2_before_any_load(tmp_path, child_processes, flags, message):
    (tmp_path / "budgets.yaml").write_text("latency: {p95_ms: -3}\n", encoding="utf-8")
    run_id = f"flags-{uuid.uuid4().hex[:12]}"
    reports = tmp_path / "reports"
    with RecordingServer() as server:
        scenario = _scenario(tmp_path, server.url, seconds=30)
        args = ["run", str(scenario), "--workers", "2", "--out", str(reports), "--run-id", run_id]
        child = _swarm(child_processes, [*args, *flags], tmp_path, run_id)
        code = _wait(child, FLAG_DEADLINE_S)
        received = len(server.requests())
    stderr = (tmp_path / "swarm.stderr").read_text()
    assert code == 2, stderr
    assert message in stderr
    assert "Traceback" not in stderr
    assert received == 0
    assert not (reports / run_id).exists()


def test_demo_checks_its_baseline_before_starting_anything(tmp_path, child_processes, free_port):
    run_id = f"demo-{uuid.uuid4().hex[:12]}"
    offset = free_port() - 8001
    args = ["demo", "--out", str(tmp_path / "reports"), "--port-offset", str(offset)]
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"
    child = _swarm(child_processes, [*args, str(scenario), "--baseline", run_id], tmp_path, run_id)
    code = _wait(child, FLAG_DEADLINE_S)
    stderr = (tmp_path / "swarm.stderr").read_text()
    assert code == 2, stderr
    assert run_id in stderr and "Traceback" not in stderr
    assert "mock detector" not in stderr  # the mock was never started
    assert not any((tmp_path / "reports").glob("*/run.json"))


# --- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A tmpfs of TMPFS_SIZE at ``tmp_path/disk``; skipped where mounting is not permitted."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path) -> None:
    """Write zeros into ``disk`` until it is full."""
    with (disk / "filler").open("wb") as filler, contextlib.suppress(OSError):
        while True:
            filler.write(bytes(64 * 1024))
            filler.flush()


def test_a_disk_that_fills_up_fails_the_run_with_exit_3_and_says_which_file(
    tmp_path, small_disk, child_processes
):
    run_id = f"full-{uuid.uuid4().hex[:12]}"
    run_dir = small_disk / "reports" / run_id
    with RecordingServer() as server:
        scenario = _scenario(tmp_path, server.url, seconds=30)
        args = ["run", str(scenario), "--workers", "2", "--out", str(small_disk / "reports")]
        child = _swarm(child_processes, [*args, "--run-id", run_id], tmp_path, run_id)
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline and child.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                if json.loads((run_dir / "run.json").read_text())["status"] == "running":
                    break
            time.sleep(POLL_S)
        else:
            stderr = (tmp_path / "swarm.stderr").read_text()
            pytest.fail(
                f"not running within {START_DEADLINE_S:g} s (exit {child.poll()}): {stderr}"
            )
        filled = time.monotonic()
        _fill(small_disk)
        code = _wait(child, RUN_DEADLINE_S)
        stopped_after_s = time.monotonic() - filled
    stderr = (tmp_path / "swarm.stderr").read_text()
    stdout = (tmp_path / "swarm.stdout").read_text()
    assert code == 3, stderr
    assert stopped_after_s < 20, "the load went on after the timeline could not be written"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["exit_code"] == 3
    assert record["message"].startswith(f"cannot write {run_dir}/")
    assert record["message"].endswith(": no space left on device")
    assert f"run failed: {record['message']}" in stderr
    assert "Traceback" not in stdout + stderr
    leftovers = [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [] and not (run_dir / ".swarm-reserve").exists()
