"""docker-compose.yml: its structure, and its very commands run as local processes.

No Docker needed. The first tests read the compose file, the Dockerfile and the files under
``deploy/`` and check that they fit together (services, ports, a scalable worker, mounts that
exist, Grafana and Prometheus configs that parse and point at the right services). The last
one takes the ``command:`` and ``environment:`` of ``mocks``, ``master`` and ``worker``,
interpolates them as compose would, swaps the compose host names for 127.0.0.1 and moves the
ports to free ones, and runs them: the same CLI lines must give a finished two-worker run.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import shlex
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from framework.timeline.reader import read_timeline
from mock_detectors.cli import READY_LINE, TOKEN_ENV
from mock_detectors.loader import DEFAULT_CONFIG_PATH, load_config
from mock_detectors.service import plan_listeners
from tests.integration.child_processes import ChildProcesses

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SWARM_SERVICES = ("master", "worker", "mocks")
MASTER_PORT = 5557
WEB_PORT = 8089
START_DEADLINE_S = 20.0
RUN_DEADLINE_S = 60.0
STOP_DEADLINE_S = 10.0
POLL_S = 0.1

_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution: ``${V}``, ``${V:-d}``, ``${V-d}``, ``${V:?e}``, ``$$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if op in (":?", "?"):
            raise ValueError(f"compose would refuse to start: {name} is required ({arg})")
        return arg if op in (":-", "-") else ""

    return _VARIABLE.sub(replace, text)


def _resolve(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _command(service: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    command = service["command"]
    if isinstance(command, list):
        return [interpolate(part, env) for part in command]
    return shlex.split(interpolate(command, env))


def _environment(service: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: interpolate(str(v), env) for k, v in raw.items()}


def _flag(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


def _container_ports(service: Mapping[str, Any]) -> set[int]:
    """Container ports published by ``service`` (``HOST:PORT:PORT`` ranges expanded)."""
    ports: set[int] = set()
    for entry in service.get("ports", []):
        target = interpolate(str(entry), {}).rsplit(":", 1)[-1]
        low, _, high = target.partition("-")
        ports.update(range(int(low), int(high or low) + 1))
    return ports


# --- structure --------------------------------------------------------------------------------


def test_compose_has_the_cluster_services_built_from_this_repo(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"master", "worker", "mocks", "influxdb", "grafana", "prometheus"}
    for name in SWARM_SERVICES:
        assert services[name]["build"] == ".", name
        assert _command(services[name], {})[0] == "swarm", name
    assert services["influxdb"]["image"].startswith("influxdb:2")


def test_master_serves_workers_and_web_ui_on_all_interfaces_by_default(
    compose: dict[str, Any],
) -> None:
    master = compose["services"]["master"]
    argv = _command(master, {})
    assert argv[:2] == ["swarm", "master"]
    assert argv[2] == "scenarios/detectors.yaml" and (REPO_ROOT / argv[2]).is_file()
    assert _flag(argv, "--bind-host") == "0.0.0.0"
    assert _flag(argv, "--master-port") == str(MASTER_PORT)
    assert "--web" in argv and _flag(argv, "--web-host") == "0.0.0.0"
    assert {MASTER_PORT, WEB_PORT} <= _container_ports(master)
    assert _environment(master, {})["TARGET_URL"] == "http://mocks:8001"
    headless = _command(master, {"MASTER_MODE": "--headless"})
    assert "--web" not in headless and "--headless" in headless


def test_worker_scales_and_the_master_waits_for_as_many(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker, "would block --scale"
    argv = _command(worker, {})
    assert argv[:2] == ["swarm", "worker"]
    assert _flag(argv, "--master-host") == "master"
    assert _flag(argv, "--master-port") == str(MASTER_PORT)
    for env in ({}, {"WORKERS": "5"}):
        replicas = _resolve(worker["deploy"]["replicas"], env)
        assert _flag(_command(services["master"], env), "--workers") == str(replicas)
    # Workers reach the mocks by name: the master resolves host fields with MOCKS_HOST.
    assert "network_mode" not in worker
    assert _environment(services["master"], {})["MOCKS_HOST"] == "mocks"
    assert {"master", "mocks"} <= set(worker["depends_on"])
    secrets = {"API_KEY", "TENANT_ID"}
    assert secrets <= set(_environment(worker, {})) and secrets <= set(
        _environment(services["master"], {})
    )


def test_mocks_listen_on_all_interfaces_with_an_admin_token(compose: dict[str, Any]) -> None:
    mocks = compose["services"]["mocks"]
    argv = _command(mocks, {})
    assert argv[:2] == ["swarm", "mocks"] and _flag(argv, "--host") == "0.0.0.0"
    assert _environment(mocks, {})[TOKEN_ENV]
    ports = {item.port for item in plan_listeners(load_config(DEFAULT_CONFIG_PATH))}
    assert ports == set(range(8001, 8006)) == _container_ports(mocks)
    assert "healthcheck" in mocks


def test_published_ports_listen_on_loopback_unless_told_otherwise(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        for entry in service.get("ports", []):
            assert interpolate(str(entry), {}).startswith("127.0.0.1:"), (name, entry)


def test_bind_mounts_exist_and_prometheus_scrapes_every_mock(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name}: {source} does not exist"
    config = yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"swarm", "mock-detectors"}
    for job in jobs.values():
        assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {t for group in jobs["mock-detectors"]["static_configs"] for t in group["targets"]}
    assert targets == {f"mocks:{port}" for port in range(8001, 8006)}
    # the master's live /metrics: the port its command serves, on every interface
    (master,) = [t for group in jobs["swarm"]["static_configs"] for t in group["targets"]]
    argv = _command(compose["services"]["master"], {})
    assert master == f"master:{argv[argv.index('--metrics-port') + 1]}"
    assert argv[argv.index("--metrics-host") + 1] == "0.0.0.0"
    assert (
        "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in compose["services"]["prometheus"]["volumes"]
    )


def test_grafana_is_provisioned_with_influxdb_prometheus_and_a_dashboard(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    provisioning = REPO_ROOT / "deploy/grafana/provisioning"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    files = sorted(provisioning.rglob("*.yaml"))
    assert files, "no provisioning files"
    parsed = {p.relative_to(provisioning).parts[0]: yaml.safe_load(p.read_text()) for p in files}

    sources = {d["type"]: d for d in parsed["datasources"]["datasources"]}
    assert set(sources) == {"influxdb", "prometheus"}
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["influxdb"]["url"] == "http://influxdb:8086"
    assert sources["influxdb"]["jsonData"]["version"] == "Flux"
    # Grafana expands ${INFLUXDB_*} from its own environment: same values as InfluxDB's init.
    influx_env = _environment(compose["services"]["influxdb"], {})
    grafana_env = _environment(grafana, {})
    assert grafana_env["INFLUXDB_TOKEN"] == influx_env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert grafana_env["INFLUXDB_ORG"] == influx_env["DOCKER_INFLUXDB_INIT_ORG"]
    assert grafana_env["INFLUXDB_BUCKET"] == influx_env["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert influx_env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert len(influx_env["DOCKER_INFLUXDB_INIT_PASSWORD"]) >= 8  # InfluxDB's minimum

    (provider,) = parsed["dashboards"]["providers"]
    dashboards_dir = next(src for src, dst in mounts.items() if dst == provider["options"]["path"])
    dashboards = sorted((REPO_ROOT / dashboards_dir).glob("*.json"))
    assert dashboards
    uids = {d["uid"] for d in sources.values()}
    for path in dashboards:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] in uids, (path.name, panel["title"])


def test_docker_compose_config_accepts_the_file() -> None:
    """Compose's own check, where a compose binary is installed (the rest needs none)."""
    for command in (["docker-compose"], ["docker", "compose"]):
        if shutil.which(command[0]) is None:
            continue
        done = subprocess.run(
            [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if command == ["docker", "compose"] and "unknown" in done.stderr:
            continue  # a docker without the compose plugin
        assert done.returncode == 0, done.stderr
        return
    pytest.skip("neither docker-compose nor the docker compose plugin is installed")


def test_dockerfile_builds_swarm_from_this_repo_on_python_311_slim() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\s*$", dockerfile, re.M)
    ignored = {
        line.strip().rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = [
        source.rstrip("/")
        for line in re.findall(r"^COPY\s+(.+)$", dockerfile, re.M)
        for source in line.split()[:-1]
    ]
    for source in ["pyproject.toml", "README.md", "framework", "locustfiles", "mock_detectors"]:
        assert source in copied, f"Dockerfile does not copy {source}"
    for source in copied:
        assert (REPO_ROOT / source).exists(), source
        assert source not in ignored, f".dockerignore hides {source}, which the Dockerfile copies"
    assert {"tests", "reports", ".git"} <= ignored
    exposed = " ".join(re.findall(r"^EXPOSE\s+(.+)$", dockerfile, re.M)).split()
    assert {"5557", "8089"} <= set(exposed)


# --- the compose commands, run locally ---------------------------------------------------------

COMPOSE_SCENARIO = textwrap.dedent(
    """\
    # Like scenarios/detectors.yaml, but short: TARGET_URL, API_KEY, TENANT_ID from the env.
    name: compose-smoke
    host: ${TARGET_URL}
    headers: {X-API-Key: "${API_KEY}"}
    users:
      - name: detector_client
        think_time: {fixed_ms: 100}
        requests:
          - {name: detect, method: POST, path: /detect, weight: 3,
             json: {content: "hello", metadata: {tenant: "${TENANT_ID}"}},
             expect: {status: [200]}}
          - {name: health, path: /health, expect: {status: [200]}}
    load: {shape: constant, users: 4, spawn_rate: 4, duration: 6s}
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _free_offset(ports: range, attempts: int = 50) -> int:
    """A ``--port-offset`` that moves every port in ``ports`` onto a free one."""
    for _ in range(attempts):
        offset = random.randrange(10000, 50000, 10)
        with contextlib.ExitStack() as stack:
            try:
                for port in ports:
                    probe = stack.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return offset
    pytest.skip(f"no free block of {len(ports)} ports found for the mocks")


def _swarm_script() -> list[str]:
    script = Path(sys.executable).with_name("swarm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "framework.cli.main"]


_TO_LOOPBACK = {
    ("--bind-host", "0.0.0.0"),
    ("--host", "0.0.0.0"),
    ("--web-host", "0.0.0.0"),
    ("--master-host", "master"),
    ("--metrics-host", "0.0.0.0"),
}


class Translation:
    """Compose → localhost: host names to 127.0.0.1, compose ports to free local ones."""

    def __init__(self, port_offset: int, master_port: int, metrics_port: int = 0) -> None:
        self.port_offset = port_offset
        self.master_port = master_port
        self.metrics_port = metrics_port or _free_port()

    def url(self, value: str) -> str:
        value = re.sub(
            r"//mocks:(\d+)", lambda m: f"//127.0.0.1:{int(m[1]) + self.port_offset}", value
        )
        return value.replace("//master:", "//127.0.0.1:")

    def argv(self, argv: list[str]) -> list[str]:
        out = list(argv)
        for i, word in enumerate(out[:-1]):
            following = out[i + 1]
            if (word, following) in _TO_LOOPBACK:
                out[i + 1] = "127.0.0.1"
            elif word == "--master-port":
                out[i + 1] = str(self.master_port)
            elif word == "--metrics-port":
                out[i + 1] = str(self.metrics_port)
        if out[:2] == ["swarm", "mocks"]:
            out += ["--port-offset", str(self.port_offset)]
        return [*_swarm_script(), *out[1:]]

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        return {k: self.url(v) for k, v in env.items()}


def _get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_compose_commands_run_a_two_worker_cluster_on_localhost(
    compose: dict[str, Any], child_processes: ChildProcesses, tmp_path: Path
) -> None:
    services = compose["services"]
    scenario = tmp_path / "compose-smoke.yaml"
    scenario.write_text(COMPOSE_SCENARIO, encoding="utf-8")
    # What a person would put in the shell before `docker compose up`.
    shell = {"MASTER_MODE": "--headless", "SCENARIO": str(scenario), "WORKERS": "2"}
    local = Translation(port_offset=_free_offset(range(8001, 8006)), master_port=_free_port())
    success_url = local.url("http://mocks:8001")

    mocks_env = local.env(_environment(services["mocks"], shell))
    mocks_log = tmp_path / "mocks.log"
    mocks = child_processes.start(
        local.argv(_command(services["mocks"], shell)), log=mocks_log, extra_env=mocks_env
    )
    deadline = time.monotonic() + START_DEADLINE_S
    while READY_LINE not in mocks_log.read_text():
        if mocks.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"mocks did not start:\n{mocks_log.read_text()[-2000:]}")
        time.sleep(POLL_S)

    master_argv = local.argv(_command(services["master"], shell))
    master_env = local.env(_environment(services["master"], shell))
    assert master_env["TARGET_URL"] == success_url
    master_log = tmp_path / "master.log"
    master = child_processes.start(master_argv, log=master_log, extra_env=master_env)
    worker_argv = local.argv(_command(services["worker"], shell))
    worker_env = local.env(_environment(services["worker"], shell))
    replicas = int(_resolve(services["worker"]["deploy"]["replicas"], shell))
    workers = [
        child_processes.start(worker_argv, log=tmp_path / f"worker-{i}.log", extra_env=worker_env)
        for i in range(1, replicas + 1)
    ]

    try:
        code = master.wait(RUN_DEADLINE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"master still running:\n{master_log.read_text()[-3000:]}")
    assert code == 0, master_log.read_text()[-3000:]
    for worker in workers:
        assert worker.wait(STOP_DEADLINE_S) == 0

    (run_dir,) = [p for p in (tmp_path / "reports").iterdir() if p.is_dir()]
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert (record["status"], record["exit_code"], record["workers"]) == ("finished", 0, 2)
    assert record["host"] == success_url and record["worker_events"] == []
    assert record["metrics_url"] == f"http://127.0.0.1:{local.metrics_port}/metrics"
    timeline = read_timeline(run_dir / "timeline.jsonl")
    assert timeline.complete
    assert set(timeline.names()) == {"POST detect", "GET health"}
    total = timeline.total()
    assert total.count > 0 and total.failure_count == 0, total.failures
    assert max(s.workers or 0 for s in timeline.seconds) == 2

    # What Prometheus scrapes, and the admin token from the compose environment.
    status, metrics = _get(f"{success_url}/metrics")
    assert status == 200 and 'mock_detector_requests_total{detector="success"' in metrics
    assert _get(f"{success_url}/admin/faults")[0] == 401
    token = {"X-Admin-Token": mocks_env[TOKEN_ENV]}
    assert _get(f"{success_url}/admin/faults", token)[0] == 200
