"""``swarm init --from-openapi mock_detectors/openapi.yaml``, then ``swarm try`` against a real
mock detector: every generated request gets the status its operation documents."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "mock_detectors" / "openapi.yaml"
OPERATIONS = {
    "detect": 200,
    "detect_batch": 200,
    "health": 200,
    "metrics": 200,
    "get_fault": 200,
    "put_fault": 200,
    "clear_fault": 200,
    "get_queue": 200,
}


def _swarm(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "framework.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def mocks(tmp_path, free_port, child_processes):
    """Two detectors of one real mock service: ``full`` (with the batch endpoint) and
    ``plain`` (without); their base URLs."""
    full, plain = free_port(), free_port()
    config = tmp_path / "detectors.yaml"
    config.write_text(
        "detectors:\n"
        f"  full: {{port: {full}, latency: {{model: fixed, ms: 1}}, batch: {{per_item_ms: 0}}}}\n"
        f"  plain: {{port: {plain}, latency: {{model: fixed, ms: 1}}}}\n",
        encoding="utf-8",
    )
    child_processes.start(
        [sys.executable, "-m", "mock_detectors", "--config", str(config)],
        log=tmp_path / "mocks.log",
        extra_env={"PYTHONPATH": str(REPO)},
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in (("full", full), ("plain", plain))}
    deadline = time.monotonic() + 30
    for url in urls.values():
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail((tmp_path / "mocks.log").read_text())
                time.sleep(0.1)
    return urls


def test_every_generated_request_gets_its_documented_status_from_a_real_mock(tmp_path, mocks):
    made = _swarm("init", "--from-openapi", str(SPEC), "-o", "mocks.yaml", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stderr == ""
    assert "wrote mocks.yaml: 8 requests" in made.stdout

    tried = _swarm("try", "mocks.yaml", cwd=tmp_path, env={"TARGET_URL": mocks["full"]})
    assert tried.returncode == 0, tried.stdout + tried.stderr
    held = dict(re.findall(r"✓ (\w+): status (\d+)", tried.stdout))
    assert {name: int(code) for name, code in held.items()} == OPERATIONS
    assert "8 requests sent, 8 answered" in tried.stdout
    assert not list(tmp_path.glob("reports"))  # swarm try writes no run folder

    # The documented 404 of a detector without `batch:` fails the batch request's check.
    plain = _swarm("try", "mocks.yaml", "--host", mocks["plain"], cwd=tmp_path)
    assert plain.returncode == 1, plain.stdout + plain.stderr
    batch = plain.stdout.split("/detect/batch", 1)[1].split("users[0].requests[2]", 1)[0]
    assert "← 404" in batch and "✗ status 404, expected 200" in batch, plain.stdout
    assert "7 checks held, 1 failed" in plain.stdout
