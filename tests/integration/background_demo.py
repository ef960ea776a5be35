"""``swarm demo`` started as collection ends, so its 3½ minutes run beside the unit tests.

The demo is the README's first command and must run whole (long enough to meet the
validation rules); most of that time it waits on a mock that answers in 200–500 ms, using
a fraction of one core. The unit tests come first (``testpaths`` in pyproject.toml) and use
one core, so the demo runs on the other instead of adding its length to the suite. Its
tests (``test_demo.py``) wait for it to end and read what it wrote; at the end of the
session anything it left running is stopped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.integration.child_processes import ChildProcesses

SWARM = Path(sys.executable).with_name("swarm")
DEADLINE_S = 480


@dataclass
class DemoRun:
    """One ``swarm demo`` in the background: its process, its folder and its mock's offset."""

    process: subprocess.Popen[str]
    folder: Path
    offset: int

    @property
    def out(self) -> Path:
        return self.folder / "reports"

    def finish(self) -> tuple[int, str, str]:
        """Wait for the demo to end (at most ``DEADLINE_S`` from now): exit code, stdout, stderr."""
        self.process.wait(timeout=DEADLINE_S)
        read = (self.folder / "stdout.txt").read_text, (self.folder / "stderr.txt").read_text
        return self.process.returncode, read[0](), read[1]()


_children = ChildProcesses()
_started: DemoRun | None = None


def free_mock_offset() -> int | None:
    """An offset N such that port 8001 + N is free on 127.0.0.1, or None."""
    for offset in range(700, 1700, 37):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", 8001 + offset))
            except OSError:
                continue
            return offset
    return None


def start() -> DemoRun | None:
    """Start the demo once per session; None when swarm is not installed or no port is free."""
    global _started
    if _started is not None:
        return _started
    offset = free_mock_offset()
    if offset is None or (not SWARM.exists() and shutil.which("swarm") is None):
        return None
    folder = Path(tempfile.mkdtemp(prefix="swarm-demo-"))
    out = folder / "reports"
    command = [str(SWARM), "demo", "--out", str(out), "--port-offset", str(offset)]
    with (folder / "stdout.txt").open("w") as stdout, (folder / "stderr.txt").open("w") as stderr:
        process = _children.start(command, marker=str(out), stdout=stdout, stderr=stderr)
    _started = DemoRun(process, folder, offset)
    return _started


def stop() -> None:
    """Stop whatever the demo left running and remove its folder."""
    _children.stop_all()
    if _started is not None:
        shutil.rmtree(_started.folder, ignore_errors=True)
