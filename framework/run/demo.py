"""``swarm demo``: start a mock detector, run a scenario on a small cluster, stop the mock.

This is the README's first Quick start command: one command that shows a whole run on a
fresh machine, with a target swarm starts itself, and ends by printing the run folder.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from framework.errors import RunError
from framework.run.runner import RunOptions, RunOutcome, run_scenario
from framework.scenario.loader import LoadedScenario, load_scenario

__all__ = ["DEFAULT_DEMO_SCENARIO", "DEMO_MOCK_PORT", "run_demo"]

DEFAULT_DEMO_SCENARIO = Path("scenarios/smoke.yaml")
DEMO_MOCK_PORT = 8001
"""The port of the demo's mock detector, before --port-offset."""
_READY_TIMEOUT_S = 15.0


def _wait_healthy(url: str, mocks: subprocess.Popen[bytes], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if mocks.poll() is not None:
            raise RunError(
                f"the mock detectors exited with code {mocks.returncode} before answering; "
                "is the port taken? try --port-offset 100"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RunError(f"the mock detectors did not answer {url} within {deadline_s:g} s")


def run_demo(
    scenario: Path = DEFAULT_DEMO_SCENARIO,
    *,
    reports_dir: Path = Path("reports"),
    port_offset: int = 0,
    workers: int = 2,
    locust_args: tuple[str, ...] = (),
    before_run: Callable[[LoadedScenario], None] | None = None,
) -> RunOutcome:
    """Run ``scenario`` on a master and ``workers`` local workers against freshly started
    mock detectors; always stop them after. ``before_run`` sees the loaded scenario before
    anything starts (the CLI resolves ``--baseline`` there, so a wrong one sends no load)."""
    port = DEMO_MOCK_PORT + port_offset
    host = f"http://127.0.0.1:{port}"
    loaded = load_scenario(scenario, host=host, require_host=True)
    if before_run is not None:
        before_run(loaded)
    command = [
        sys.executable, "-m", "mock_detectors",
        "--only", "success", "--port-offset", str(port_offset), "--log-level", "WARNING",
    ]  # fmt: skip
    mocks = subprocess.Popen(command, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        _wait_healthy(f"{host}/health", mocks, _READY_TIMEOUT_S)
        print(f"swarm demo: mock detector 'success' at {host}", file=sys.stderr)
        options = RunOptions(reports_dir=reports_dir, workers=workers, locust_args=locust_args)
        return run_scenario(loaded, options)
    finally:
        mocks.terminate()
        try:
            mocks.wait(timeout=10)
        except subprocess.TimeoutExpired:
            mocks.kill()
            mocks.wait()
