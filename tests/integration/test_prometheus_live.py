"""The live ``/metrics`` of a real swarm run, scraped by a real Prometheus (Debian's package).

One module-scoped run: the mock detectors (``swarm mocks``), Prometheus on 127.0.0.1 with a
temporary config and storage scraping both at 1 s, and a headless ``swarm run
--metrics-port`` sending a constant rate (every user paced at 1 request per second) to the
success and the failing detector. Then, against what Prometheus stored:

- ``rate(swarm_requests_total[...])`` over the steady state is within 2% of the timeline's
  throughput, and the counters equal the timeline's first N seconds exactly;
- every query of every provisioned Grafana dashboard (deploy/grafana/dashboards) returns data.

Prometheus is skipped, with the reason, where the ``prometheus`` package is missing.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import shutil
import socket
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from framework.live.state import STATES
from framework.timeline.reader import read_timeline
from framework.timeline.records import Second
from mock_detectors.cli import READY_LINE
from tests.integration.child_processes import ChildProcesses

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO_ROOT / "deploy" / "grafana" / "dashboards"
SWARM = [sys.executable, "-m", "framework.cli.main"]
ENV = {"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
USERS = 40
DURATION_S = 75
START_DEADLINE_S = 30.0
POLL_S = 0.2

SCENARIO = """\
name: prometheus-live
host: {success}
users:
  - name: client
    think_time: {{throughput: 1}}
    requests:
      - {{name: detect, method: POST, path: /detect, weight: 3, json: {{content: hi}}}}
      - {{name: detect-failing, method: POST, path: "{failing}/detect", json: {{content: hi}}}}
load: {{shape: constant, users: {users}, spawn_rate: {users}, duration: {duration}s}}
budgets:
  overall: {{p95_ms: 600, error_rate: 50%, min_throughput: 5}}
  requests:
    detect: {{p99_ms: 700}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _free_offset(ports: range) -> int:
    for _ in range(50):
        offset = random.randrange(10000, 50000, 10)
        with contextlib.ExitStack() as stack:
            try:
                for port in ports:
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return offset
    pytest.skip("no free block of ports for the mock detectors")


def _get(url: str, timeout: float = 5.0) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read().decode(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, "", exc.read().decode()


def _wait_for(what: str, check: Any, deadline_s: float, log: Path | None = None) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            found = check()
            if found:
                return found
        time.sleep(POLL_S)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    pytest.fail(f"{what} did not happen within {deadline_s:g}s\n{tail}")


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip("Debian's prometheus package is not installed (apt-get install -y prometheus)")
    return found


@dataclass(frozen=True)
class Prometheus:
    """A Prometheus server of the test, at ``url``."""

    url: str

    def query(self, expr: str, at_s: float) -> list[dict[str, Any]]:
        return self._api("query", query=expr, time=f"{at_s:.3f}")

    def query_range(self, expr: str, start_s: float, end_s: float) -> list[dict[str, Any]]:
        return self._api(
            "query_range", query=expr, start=f"{start_s:.3f}", end=f"{end_s:.3f}", step="1"
        )

    def _api(self, path: str, **params: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        status, _type, body = _get(url)
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", (params["query"], body[:500])
        return list(answer["data"]["result"])


def start_prometheus(
    children: ChildProcesses, folder: Path, targets: dict[str, list[str]]
) -> Prometheus:
    """Debian's prometheus on 127.0.0.1, scraping ``targets`` (job → host:port) every 1 s."""
    binary = prometheus_binary()
    folder.mkdir(parents=True, exist_ok=True)
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: {json.dumps(hosts)}\n"
        for job, hosts in targets.items()
    )
    config = folder / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{jobs}",
        encoding="utf-8",
    )
    port = _free_port()
    log = folder / "prometheus.log"
    children.start(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        log=log,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_for("prometheus ready", lambda: _get(f"{url}/-/ready")[0] == 200, 30.0, log)
    return Prometheus(url)


@dataclass(frozen=True)
class ScrapedRun:
    prometheus: Prometheus
    run_dir: Path
    returncode: int
    started_s: float
    ended_s: float
    live_text: str  # /metrics fetched directly while the run was running
    live_type: str


@pytest.fixture(scope="module")
def scraped_run(
    tmp_path_factory: pytest.TempPathFactory, module_child_processes: ChildProcesses
) -> Iterator[ScrapedRun]:
    folder = tmp_path_factory.mktemp("prom")
    children = module_child_processes
    prometheus_binary()
    offset = _free_offset(range(8001, 8006))
    mocks_log = folder / "mocks.log"
    children.start([*SWARM, "mocks", "--port-offset", str(offset)], log=mocks_log, extra_env=ENV)
    _wait_for("mock detectors ready", lambda: READY_LINE in mocks_log.read_text(), 30, mocks_log)
    metrics_port = _free_port()
    prometheus = start_prometheus(
        children,
        folder / "prometheus",
        {
            "swarm": [f"127.0.0.1:{metrics_port}"],
            "mock-detectors": [f"127.0.0.1:{p + offset}" for p in range(8001, 8006)],
        },
    )
    scenario = folder / "scenario.yaml"
    scenario.write_text(
        SCENARIO.format(
            success=f"http://127.0.0.1:{8001 + offset}",
            failing=f"http://127.0.0.1:{8003 + offset}",
            users=USERS,
            duration=DURATION_S,
        ),
        encoding="utf-8",
    )
    run_id = f"prom-{os.getpid()}-{random.randrange(10**6)}"
    log = folder / "swarm.log"
    started = time.time()
    swarm = children.start(
        [
            *SWARM,
            "run",
            str(scenario),
            "--out",
            str(folder / "reports"),
            "--run-id",
            run_id,
            "--metrics-port",
            str(metrics_port),
        ],
        log=log,
        extra_env=ENV,
        marker=run_id,
    )
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"

    def running_metrics() -> tuple[str, str] | None:
        status, kind, text = _get(metrics_url)
        running = 'swarm_run_state{state="running"} 1.0' in text
        return (
            (text, kind) if status == 200 and running and "swarm_requests_total{" in text else None
        )

    live_text, live_type = _wait_for("/metrics of a running run", running_metrics, 60.0, log)
    returncode = swarm.wait(DURATION_S + 120)
    yield ScrapedRun(
        prometheus=prometheus,
        run_dir=folder / "reports" / run_id,
        returncode=returncode,
        started_s=started,
        ended_s=time.time(),
        live_text=live_text,
        live_type=live_type,
    )


def _steady_seconds(seconds: list[Second]) -> list[Second]:
    """The seconds at full load, less 5 s at each end."""
    full = [s for s in seconds if s.users == USERS]
    assert len(full) > 40, [s.users for s in seconds]
    return full[5:-5]


def test_live_metrics_are_served_during_a_headless_run_and_recorded_in_run_json(
    scraped_run: ScrapedRun,
) -> None:
    assert scraped_run.returncode in (0, 1), (scraped_run.run_dir / "locust.log").read_text()[
        -3000:
    ]
    assert scraped_run.live_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(scraped_run.live_text)}
    state = {s.labels["state"]: s.value for s in families["swarm_run_state"].samples}
    assert state == {name: float(name == "running") for name in STATES}
    names = {s.labels["name"] for s in families["swarm_requests"].samples}
    assert names <= {"detect", "detect-failing"} and names
    record = json.loads((scraped_run.run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["metrics_url"].endswith("/metrics")
    assert record["metrics_url"].startswith("http://127.0.0.1:")


def test_prometheus_rate_over_the_steady_state_is_within_2_percent_of_the_timeline(
    scraped_run: ScrapedRun,
) -> None:
    timeline = read_timeline(scraped_run.run_dir / "timeline.jsonl")
    steady = _steady_seconds(list(timeline.seconds))
    first, last = steady[0].t, steady[-1].t
    counts = {s.t: sum(r.count for r in s.requests) for s in steady}
    # Seconds reach /metrics a few seconds after they end (the merger's grace): a window
    # ending at the steady state's last second and starting 10 s after its first covers
    # only steady seconds, whatever that lag is up to 10 s. Which seconds it covers depends
    # on the lag, so the timeline's rate is taken over the same window at each lag.
    window = last - first - 10
    rates = [
        sum(counts[t] for t in range(last - lag - window + 1, last - lag + 1)) / window
        for lag in range(11)
    ]
    found = scraped_run.prometheus.query(
        f'sum(rate(swarm_requests_total{{job="swarm"}}[{window}s]))', at_s=last
    )
    assert found, "Prometheus has no swarm_requests_total"
    measured = float(found[0]["value"][1])
    low, high = min(rates), max(rates)
    print(f"prometheus rate {measured:.3f}/s over {window}s, timeline {low:.3f}-{high:.3f}/s")
    assert low * 0.98 <= measured <= high * 1.02, (measured, low, high, window)


def test_prometheus_counters_equal_the_timeline_seconds_they_have_counted(
    scraped_run: ScrapedRun,
) -> None:
    timeline = read_timeline(scraped_run.run_dir / "timeline.jsonl")
    seconds = list(timeline.seconds)
    at = seconds[len(seconds) // 2].t + 5
    prom = scraped_run.prometheus
    (closed,) = prom.query('swarm_seconds_closed_total{job="swarm"}', at_s=at)
    n = int(float(closed["value"][1]))
    assert 0 < n < len(seconds)
    counted = seconds[:n]
    for series in prom.query('swarm_requests_total{job="swarm"}', at_s=at):
        name = series["metric"]["name"]
        want = sum(r.count for s in counted for r in s.requests if r.name == name)
        assert float(series["value"][1]) == want, name
    for series in prom.query('swarm_requests_failed_total{job="swarm"}', at_s=at):
        name = series["metric"]["name"]
        want = sum(r.failure_count for s in counted for r in s.requests if r.name == name)
        assert float(series["value"][1]) == want, name


def _queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target.get("expr") or target.get("query")
                if expr:
                    found.append((path.name, panel["title"], expr))
    return found


def test_every_provisioned_dashboard_has_queries_for_the_live_run_and_the_mocks() -> None:
    files = {name for name, _title, _expr in _queries()}
    assert files == {"mock-detectors.json", "swarm-live-run.json"}


@pytest.mark.parametrize(
    ("dashboard", "title", "expr"), _queries(), ids=lambda v: re.sub(r"\W+", "-", str(v))[:40]
)
def test_every_dashboard_query_returns_data_from_a_real_run(
    scraped_run: ScrapedRun, dashboard: str, title: str, expr: str
) -> None:
    assert "$" not in expr, f"{dashboard} {title}: template variables are not substituted here"
    series = scraped_run.prometheus.query_range(expr, scraped_run.started_s, scraped_run.ended_s)
    values = [float(v) for s in series for _t, v in s["values"] if not math.isnan(float(v))]
    assert values, f"{dashboard} / {title}: {expr} returned no data"
