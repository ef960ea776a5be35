"""The command line: exit codes, signals, the admin token and several processes."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mock_detectors.cli import main
from tests.mock_detectors.conftest import REPO, free_ports, request, start_service, write_config

pytestmark = pytest.mark.integration

BODY = {"content": "x"}


def run_cli(
    *args: str, timeout_s: float = 20, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_detectors", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def one_detector(tmp_path: Path, body: str = "latency: {model: fixed, ms: 0}") -> Path:
    (port,) = free_ports(1)
    return write_config(tmp_path / "d.yaml", f"detectors:\n  one:\n    port: {port}\n    {body}\n")


def test_invalid_config_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    bad = write_config(
        tmp_path / "bad.yaml",
        "detectors:\n  a:\n    latency: {model: uniform, min_ms: 1, max_ms: 3}\n"
        "    errors: {rate: 2}\n",
    )
    result = run_cli("--config", str(bad))
    assert result.returncode == 2
    assert f"{bad}:4:14: detectors.a.errors.rate: must be <= 1.0, got 2" in result.stderr


def test_check_prints_the_detectors_and_exits_0() -> None:
    out = io.StringIO()
    assert main(["--check", "--only", "success,batch"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["success", "batch"]
    assert "http://127.0.0.1:8005" in lines[1]


def test_bad_flags_exit_2_with_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--proceses", "2"]) == 2
    assert "did you mean --processes?" in capsys.readouterr().err
    assert main(["--only", "nope"]) == 2
    assert "unknown detector(s) 'nope'" in capsys.readouterr().err


def test_listening_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    result = run_cli("--config", str(one_detector(tmp_path)), "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "admin API needs a token" in result.stderr and "SWARM_MOCKS_ADMIN_TOKEN" in result.stderr


@pytest.mark.parametrize("token", ["", "   ", "\t"])
def test_blank_admin_token_is_refused_at_start_with_exit_2(tmp_path: Path, token: str) -> None:
    result = run_cli("--config", str(one_detector(tmp_path)), "--admin-token", token)
    assert result.returncode == 2
    assert "--admin-token is set but blank" in result.stderr and "Traceback" not in result.stderr


def test_blank_admin_token_in_the_environment_is_refused_with_exit_2(tmp_path: Path) -> None:
    result = run_cli("--config", str(one_detector(tmp_path)), env={"SWARM_MOCKS_ADMIN_TOKEN": "  "})
    assert result.returncode == 2
    assert "SWARM_MOCKS_ADMIN_TOKEN is set but blank" in result.stderr


def test_admin_token_with_spaces_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for token in (" s3cret", "s3 cret", "sécret"):  # a header would not carry it unchanged
        assert main(["--check", "--admin-token", token]) == 2
        assert "visible ASCII characters without spaces" in capsys.readouterr().err
    assert main(["--check", "--only", "success", "--admin-token", "s3cret"]) == 0


def test_port_in_use_exits_3(tmp_path: Path) -> None:
    config = one_detector(tmp_path)
    port = int(config.read_text().split("port: ")[1].split()[0])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = run_cli("--config", str(config))
    assert result.returncode == 3
    assert f"cannot listen on http://127.0.0.1:{port}" in result.stderr


def test_admin_api_requires_the_token_when_one_is_set(tmp_path: Path) -> None:
    service = start_service(one_detector(tmp_path), env={"SWARM_MOCKS_ADMIN_TOKEN": "s3cret"})
    try:
        url = service.urls["one"]
        fault = {"duration_s": 5, "outage": True}
        assert request(url, "GET", "/admin/faults").status == 401
        wrong = {"Authorization": "Bearer nope"}
        assert request(url, "PUT", "/admin/faults", fault, wrong).status == 403
        right = {"Authorization": "Bearer s3cret"}
        assert request(url, "PUT", "/admin/faults", fault, right).status == 200
        assert request(url, "GET", "/health").status == 503
        assert (
            request(url, "DELETE", "/admin/faults", headers={"X-Admin-Token": "s3cret"}).status
            == 200
        )
        assert request(url, "POST", "/detect", BODY).status == 200  # detection needs no token
    finally:
        assert service.stop() == 0


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    service = start_service(one_detector(tmp_path))
    service.process.send_signal(signal.SIGINT)
    assert service.process.wait(timeout=10) == 0


def test_sigterm_stops_cleanly_with_requests_in_flight(tmp_path: Path) -> None:
    config = one_detector(
        tmp_path,
        "latency: {model: fixed, ms: 1}\n"
        "    timeouts: {rate: 1.0, hang: {model: fixed, ms: 30000}}",
    )
    service = start_service(config)
    url = service.urls["one"]
    errors: list[BaseException] = []

    def hang() -> None:
        try:
            request(url, "POST", "/detect", BODY, timeout_s=20)
        except BaseException as exc:  # the connection is closed at shutdown
            errors.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    deadline = time.monotonic() + 5
    while (
        'in_flight_requests{detector="one"} 2.0'
        not in request(url, "GET", "/metrics").body.decode()
    ):
        assert time.monotonic() < deadline, "the hanging request never arrived"
        time.sleep(0.02)
    started = time.monotonic()
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    thread.join(5)
    assert errors  # the hung client was disconnected, not left waiting 30 s


def test_processes_share_ports_faults_and_metrics(tmp_path: Path) -> None:
    service = start_service(one_detector(tmp_path), "--processes", "2")
    try:
        assert "(2 processes)" in service.lines[-1]
        url = service.urls["one"]
        for _ in range(40):  # a fresh connection each time: SO_REUSEPORT spreads them
            assert request(url, "POST", "/detect", BODY).status == 200
        request(url, "PUT", "/admin/faults", {"duration_s": 30, "error_rate": 1.0})
        statuses = {request(url, "POST", "/detect", BODY).status for _ in range(20)}
        assert statuses == {503}  # every process saw the fault
        text = request(url, "GET", "/metrics").body.decode()
        counts = {
            sample.labels["status"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "mock_detector_requests_total"
            and sample.labels["endpoint"] == "detect"
        }
        assert counts == {"200": 40, "503": 20}
    finally:
        assert service.stop() == 0
