"""A few malformed inputs through a real ``swarm`` process: the exit code end to end.

The whole corpus runs in process (``tests/unit/cli/test_malformed_corpus.py``); these prove
that the console script's exit status is 2, that nothing reaches stderr as a traceback and
that a refused run leaves no run folder behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.child_processes import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
DEADLINE_S = 60.0

SCENARIO = """\
name: t
host: http://127.0.0.1:9
users:
  - name: u
    requests:
      - path: /a
load: {shape: constant, users: 1, duration: 5}
"""


def _swarm(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("SWARM_HOST", None)
    return subprocess.run(
        [str(SWARM), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def test_one_validate_lists_a_wave_out_of_order_beside_its_missing_field(tmp_path) -> None:
    wave = "{shape: wave, min_users: 50, max_users: 10, duration: 60, spawn_rate: 5}"
    text = SCENARIO.replace("{shape: constant, users: 1, duration: 5}", wave)
    (tmp_path / "s.yaml").write_text(
        text.replace("- name: u", "- name: u\n    think_time: {uniform_ms: [2000, 500]}"),
        encoding="utf-8",
    )
    done = _swarm(tmp_path, "validate", "s.yaml")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "3 problems in scenario" in done.stderr
    assert "s.yaml:8:7: load.period: required field is missing" in done.stderr
    assert "s.yaml:8:47: load.max_users: must be above min_users (50), got 10" in done.stderr
    assert "s.yaml:5:30: users[0].think_time.uniform_ms" in done.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "s.yaml:1: the file is empty"),
        (b"name: t\x00\n", "s.yaml:1:8: the file holds a NUL byte"),
        (b"\x89PNG\r\n\x1a\n\xff", "s.yaml:1:1: not UTF-8 text"),
    ],
    ids=["empty", "nul-byte", "binary"],
)
def test_unreadable_scenarios_say_what_they_are(tmp_path, content: bytes, expected: str) -> None:
    (tmp_path / "s.yaml").write_bytes(content)
    done = _swarm(tmp_path, "validate", "s.yaml")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert expected in done.stderr


def test_a_run_with_an_impossible_budget_is_refused_before_any_load(tmp_path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("overall: {error_rate: 150%, p95_ms: 1e400}\n")
    done = _swarm(tmp_path, "run", "s.yaml", "--budgets", "b.yaml", "--out", "reports")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "b.yaml:1:23: overall.error_rate: percentages are 0% to 100%" in done.stderr
    assert "b.yaml:1:37: overall.p95_ms: must be a finite number" in done.stderr
    assert not (tmp_path / "reports").exists()


def test_a_flag_out_of_range_exits_2_naming_the_flag(tmp_path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    done = _swarm(tmp_path, "run", "s.yaml", "--workers", "100000")
    assert done.returncode == 2
    assert "argument --workers: must be 0..256, got 100000" in done.stderr
    assert not (tmp_path / "reports").exists()


def test_a_mock_config_with_a_bool_for_a_number_exits_2(tmp_path) -> None:
    (tmp_path / "m.yaml").write_text(
        "detectors:\n  fast:\n    latency: {model: fixed, ms: true}\n", encoding="utf-8"
    )
    done = _swarm(tmp_path, "mocks", "--check", "--config", "m.yaml")
    assert done.returncode == 2
    assert "m.yaml:3:" in done.stderr
    assert "true and false are not numbers" in done.stderr
