"""``swarm demo``: start a mock detector, run a scenario on a small cluster, stop the mock.

This is the README's first Quick start command: one command that shows a whole run on a
fresh machine, with a target swarm starts itself, and ends by printing the run folder.

Its default scenario, ``scenarios/demo.yaml``, is long enough for the run to meet the
default validation rules: a first run that ends "not yet trustworthy" would teach that
the warning can be ignored. Before the load starts it says what the mock answers (its
latency profile, relayed from ``swarm mocks``' own listing) and how long the plan runs, so
that neither the p95 nor the wait is a surprise.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from framework.errors import RunError
from framework.plan.chart import format_duration
from framework.plan.groups import schedule_for
from framework.run.runner import RunOptions, RunOutcome, run_scenario
from framework.scenario.loader import LoadedScenario, load_scenario

__all__ = ["DEFAULT_DEMO_SCENARIO", "DEMO_MOCK_PORT", "run_demo"]

DEFAULT_DEMO_SCENARIO = Path("scenarios/demo.yaml")
DEMO_DETECTOR = "success"
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


def _profile_of(listing: str, name: str) -> str:
    """What ``swarm mocks`` printed for detector ``name`` (``uniform 200–500 ms; 100%
    success``), or ``""`` when it printed nothing for it.

    >>> _profile_of("success  http://127.0.0.1:8001  uniform 200–500 ms; 100% success", "success")
    'uniform 200–500 ms; 100% success'
    """
    for line in listing.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] == name:
            return parts[2].strip()
    return ""


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
        "--only", DEMO_DETECTOR, "--port-offset", str(port_offset), "--log-level", "WARNING",
    ]  # fmt: skip
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as listing:
        mocks = subprocess.Popen(command, stdout=listing, stdin=subprocess.DEVNULL)
        try:
            _wait_healthy(f"{host}/health", mocks, _READY_TIMEOUT_S)
            listing.seek(0)
            _announce(host, _profile_of(listing.read(), DEMO_DETECTOR), scenario, loaded, workers)
            options = RunOptions(reports_dir=reports_dir, workers=workers, locust_args=locust_args)
            return run_scenario(loaded, options)
        finally:
            mocks.terminate()
            try:
                mocks.wait(timeout=10)
            except subprocess.TimeoutExpired:
                mocks.kill()
                mocks.wait()


def _announce(
    host: str, profile: str, scenario: Path, loaded: LoadedScenario, workers: int
) -> None:
    """Say what the mock answers and how long the plan runs, before the wait begins."""
    answers = f": answers {profile}" if profile else ""
    print(f"swarm demo: mock detector '{DEMO_DETECTOR}' at {host}{answers}", file=sys.stderr)
    schedule = schedule_for(loaded.scenario, time_scale=loaded.time_scale)
    load = f"{schedule.peak_users} users"
    if schedule.model != "closed":
        load = f"{schedule.peak_rate:g} arrivals/s" + (
            f", {load}" if schedule.model == "mixed" else ""
        )
    print(
        f"swarm demo: running {scenario} for {format_duration(schedule.duration_s)} "
        f"({load}, {workers} workers)",
        file=sys.stderr,
    )
