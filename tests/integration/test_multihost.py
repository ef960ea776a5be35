"""``swarm master`` and two ``swarm worker``s on three "hosts": Linux network namespaces.

The hosts are namespaces joined by veth pairs to a bridge in a fourth, "switch" namespace
(nothing touches the root namespace's network)::

    master ns   10.77.0.1  swarm master + the HTTP target (:8080)  ─┐
    worker1 ns  10.77.0.2  swarm worker                             ├─ br0 in the switch ns
    worker2 ns  10.77.0.3  swarm worker                             ─┘

Mid-run, worker2's switch port goes down (a pulled cable): the master must notice the missing
heartbeat, finish the run with the other worker and exit 3 with the loss in ``run.json``;
the cut-off worker must give up on its own after ``$SWARM_MASTER_TIMEOUT``. Each host has
its own ``API_KEY``: the target must see the workers' values, never the master's.

Needs root (or CAP_NET_ADMIN) and ``ip`` from iproute2; skipped, with the reason, where
``ip netns add`` is not permitted. Namespaces and processes are removed at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from framework.timeline.reader import read_timeline
from tests.integration.child_processes import ChildProcesses, is_alive

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SUBNET = "10.77.0"
MASTER_IP = f"{SUBNET}.1"
MASTER_PORT = 5557
TARGET_PORT = 8080
MASTER_TIMEOUT_S = 5  # $SWARM_MASTER_TIMEOUT of the workers
READY_DEADLINE_S = 10.0
START_DEADLINE_S = 45.0
EXIT_DEADLINE_S = 60.0
CUT_AFTER_S = 5.0  # into a 14 s plan
POLL_S = 0.1

# A target that counts the X-API-Key values it receives and writes them out when stopped.
TARGET_SOURCE = textwrap.dedent(
    """
    import json, signal, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    keys, lock = {}, threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_GET(self):
            key = self.headers.get("X-API-Key", "")
            with lock:
                keys[key] = keys.get(key, 0) + 1
            body = b'{"verdict": "clean"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print("READY", flush=True)
    server.serve_forever(poll_interval=0.05)
    with lock, open(out, "w") as f:
        json.dump(keys, f)
    """
)

SCENARIO = textwrap.dedent(
    f"""\
    name: multihost
    host: http://{MASTER_IP}:{TARGET_PORT}
    headers: {{X-API-Key: "${{API_KEY}}"}}
    users:
      - name: client
        think_time: {{fixed_ms: 50}}
        requests:
          - {{name: detect, path: /detect, expect: {{status: 200}}}}
    load: {{shape: constant, users: 4, spawn_rate: 4, duration: 14s}}
    """
)


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


@dataclass
class Network:
    """Three host namespaces on one bridge; ``cut(host)`` downs that host's switch port."""

    prefix: str
    hosts: dict[str, str] = field(default_factory=dict)  # host name → its namespace
    ports: dict[str, str] = field(default_factory=dict)  # host name → its port on br0
    created: list[str] = field(default_factory=list)

    @property
    def switch(self) -> str:
        return f"{self.prefix}-sw"

    def add_namespace(self, name: str) -> None:
        result = _ip("netns", "add", name)
        if result.returncode != 0:
            pytest.skip(f"network namespaces not permitted: ip netns add: {result.stderr.strip()}")
        self.created.append(name)

    def build(self, names: list[str]) -> None:
        self.add_namespace(self.switch)
        self._run("-n", self.switch, "link", "add", "br0", "type", "bridge")
        self._run("-n", self.switch, "link", "set", "br0", "up")
        for index, name in enumerate(names, start=1):
            namespace, port = f"{self.prefix}-{name}", f"p{index}"
            self.add_namespace(namespace)
            self.hosts[name], self.ports[name] = namespace, port
            self._run(
                "-n", self.switch, "link", "add", port, "type", "veth",
                "peer", "name", "eth0", "netns", namespace,
            )  # fmt: skip
            self._run("-n", self.switch, "link", "set", port, "master", "br0", "up")
            self._run("-n", namespace, "addr", "add", f"{SUBNET}.{index}/24", "dev", "eth0")
            self._run("-n", namespace, "link", "set", "eth0", "up")
            self._run("-n", namespace, "link", "set", "lo", "up")

    def cut(self, name: str) -> None:
        self._run("-n", self.switch, "link", "set", self.ports[name], "down")

    def exec_prefix(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", self.hosts[name]]

    def destroy(self) -> None:
        for namespace in reversed(self.created):
            _ip("netns", "del", namespace)

    @staticmethod
    def _run(*args: str) -> None:
        result = _ip(*args)
        if result.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@pytest.fixture
def network() -> Iterator[Network]:
    if shutil.which("ip") is None:
        pytest.skip("network namespaces not permitted: the `ip` command (iproute2) is missing")
    net = Network(prefix=f"swarm-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    try:
        net.build(["master", "worker1", "worker2"])
        yield net
    finally:
        net.destroy()


def _wait_for_line(log: Path, text: str, child: subprocess.Popen[str], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if text in log.read_text(encoding="utf-8", errors="replace"):
            return
        if child.poll() is not None:
            break
        time.sleep(POLL_S)
    pytest.fail(f"{log.name}: no {text!r} within {deadline_s:g} s:\n{log.read_text()[-2000:]}")


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _run_json(run_dir: Path) -> dict[str, Any] | None:
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    return None


def test_worker_cut_off_the_network_is_reported_missing_and_fails_the_run(
    network: Network, child_processes: ChildProcesses, tmp_path: Path
) -> None:
    swarm = [sys.executable, "-m", "framework.cli.main"]
    keys_file = tmp_path / "keys.json"
    target_log = tmp_path / "target.log"
    target = child_processes.start(
        [*network.exec_prefix("master"), sys.executable, "-c", TARGET_SOURCE,
         MASTER_IP, str(TARGET_PORT), str(keys_file)],
        log=target_log, extra_env={},
    )  # fmt: skip
    _wait_for_line(target_log, "READY", target, READY_DEADLINE_S)

    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    run_dir = tmp_path / "reports" / "multihost"
    master_log = tmp_path / "master.log"
    master = child_processes.start(
        [*network.exec_prefix("master"), *swarm, "master", str(scenario), "--workers", "2",
         "--bind-host", MASTER_IP, "--master-port", str(MASTER_PORT), "--workers-timeout", "40",
         "--out", str(tmp_path / "reports"), "--run-id", "multihost"],
        log=master_log, extra_env={"API_KEY": "master-key"},
    )  # fmt: skip
    workers = {}
    for name in ("worker1", "worker2"):
        workers[name] = child_processes.start(
            [*network.exec_prefix(name), *swarm, "worker",
             "--master-host", MASTER_IP, "--master-port", str(MASTER_PORT)],
            log=tmp_path / f"{name}.log",
            extra_env={"API_KEY": f"key-{name}", "SWARM_MASTER_TIMEOUT": str(MASTER_TIMEOUT_S)},
        )  # fmt: skip

    deadline = time.monotonic() + START_DEADLINE_S
    while (record := _run_json(run_dir)) is None or record["status"] != "running":
        if master.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"master not running in time:\n{master_log.read_text()[-3000:]}")
        time.sleep(POLL_S)
    child_processes.remember()
    time.sleep(CUT_AFTER_S)  # a point in the plan, not a wait for an outcome
    network.cut("worker2")
    cut_at, cut_at_s = time.monotonic(), time.time()

    cut_off = [p for p in psutil.Process(workers["worker2"].pid).children() if is_alive(p)]
    _gone, still = psutil.wait_procs(cut_off, timeout=MASTER_TIMEOUT_S + 5)
    gave_up_after = time.monotonic() - cut_at
    try:
        code = master.wait(EXIT_DEADLINE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"master still running:\n{master_log.read_text()[-3000:]}")
    print(f"\nworker2 cut off: its worker gave up after {gave_up_after:.1f} s; master exit {code}")

    assert still == [], "the cut-off worker did not give up on the master"
    assert "Didn't get heartbeat from master" in (tmp_path / "worker2.log").read_text()
    assert workers["worker1"].wait(EXIT_DEADLINE_S) == 0

    record = _run_json(run_dir)
    assert record is not None
    assert code == 3, master_log.read_text()[-3000:]
    assert (record["status"], record["exit_code"]) == ("finished", 3)
    assert "lost 1 worker" in str(record["message"])
    missing = [e for e in record["worker_events"] if e["event"] == "missing"]
    assert len(missing) == 1, record["worker_events"]
    noticed_after = _unix(missing[0]["at"]) - cut_at_s
    print(f"master marked the worker missing {noticed_after:.1f} s after the cut")
    assert 0 < noticed_after < 10

    timeline = read_timeline(run_dir / "timeline.jsonl")
    assert timeline.complete
    busy = [s.t for s in timeline.series("GET detect") if s.count]
    first_s, last_s, cut_s = busy[0], busy[-1], int(cut_at_s)
    live = {s.t: s.workers for s in timeline.seconds}
    counts = {s.t: s.count for s in timeline.series("GET detect")}
    assert all(live[t] == 2 for t in range(first_s + 1, cut_s)), live
    assert all(live[t] == 1 for t in range(cut_s + 6, last_s)), live
    assert all(counts[t] > 0 for t in range(cut_s + 6, last_s)), counts

    os.killpg(target.pid, signal.SIGTERM)
    target.wait(10)
    keys = json.loads(keys_file.read_text(encoding="utf-8"))
    assert set(keys) == {"key-worker1", "key-worker2"}, keys
