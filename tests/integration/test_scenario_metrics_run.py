"""A scenario's ``metrics:`` and ``gauges:`` in real ``swarm run``s against the real mock
detectors, local and with two workers, side by side.

The detector answers every ``/detect`` with ``Server-Timing`` and a JSON ``score`` (an error
answer has no score), ``/detect/batch`` with a list of results, and ``GET /admin/queue``
with its depth. The timeline's ``met`` lines must hold exactly what the answers held: as
many server times as responses, as many scores as successful answers and the failed ones
counted missing, the body sizes adding up to the requests' bytes; the queue gauge polled
about once a second on the master only (two workers do not double it), and a gauge whose
target is down counted missing with a single warning.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME, Timeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
DEADLINE_S = 120.0
DURATION_S = 6

SCENARIO = """
    name: scenario metrics
    host: HOST
    users:
      - name: caller
        think_time: {fixed_ms: 20}
        requests:
          - name: detect
            method: POST
            path: /detect
            json: {content: "{{ random_text(16) }}"}
            expect: {status: 200}
            metrics:
              - {name: detector.server_ms, unit: ms, server_timing: app, dims: {endpoint: detect}}
              - name: detector.score
                unit: "1"
                json_path: $.score
                dims: {model: "${MODEL:-fast}"}
              - {name: detector.bytes, kind: counter, unit: bytes, body_size: true}
      - name: batcher
        think_time: {fixed_ms: 50}
        flow:
          - name: batch
            method: POST
            path: /detect/batch
            json: {items: [{content: a}, {content: b}, {content: c}]}
            expect: {status: 200}
            metrics:
              - {name: detector.batch.results, unit: items, count_of: $.results}
    gauges:
      - {name: detector.queue.depth, unit: jobs, path: /admin/queue, json_path: $.depth}
      - {name: detector.down.depth, unit: jobs, url: "DOWN", json_path: $.depth, every: 500ms}
    load: {shape: constant, users: 4, spawn_rate: 40, duration: DURATIONs}
"""


@pytest.fixture(scope="module")
def detector(tmp_path_factory, free_port, module_child_processes) -> str:
    """One real mock detector: 2 ms answers, a fifth of them failing with 500, a batch
    endpoint; its base URL."""
    folder = tmp_path_factory.mktemp("mocks")
    port = free_port()
    config = folder / "detectors.yaml"
    config.write_text(
        "detectors:\n"
        f"  d: {{port: {port}, latency: {{model: fixed, ms: 2}}, batch: {{per_item_ms: 0}},\n"
        "      errors: {rate: 0.2, statuses: {500: 1}}}\n",
        encoding="utf-8",
    )
    module_child_processes.start(
        [sys.executable, "-m", "mock_detectors", "--config", str(config)],
        log=folder / "mocks.log",
        extra_env={"PYTHONPATH": str(REPO)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).close()
            return url
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail((folder / "mocks.log").read_text())
            time.sleep(0.1)


def _run(children, folder: Path, host: str, down: str, *extra: str) -> tuple[object, Path, Path]:
    scenario = folder / "scenario.yaml"
    text = textwrap.dedent(SCENARIO).replace("HOST", host).replace("DOWN", down)
    scenario.write_text(text.replace("DURATION", str(DURATION_S)), encoding="utf-8")
    run_id = f"scenario-metrics-{uuid.uuid4().hex[:10]}"
    out = folder / "reports"
    log = folder / f"{run_id}.out"
    child = children.start(
        [str(SWARM), "run", str(scenario), *extra, "--out", str(out), "--run-id", run_id],
        marker=run_id,
        log=log,
        extra_env={"PYTHONPATH": os.environ.get("PYTHONPATH", ""), "MODEL": "slow"},
    )
    return child, out / run_id, log


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory, detector, free_port, module_child_processes
) -> dict[str, tuple[int, Timeline, str]]:
    """A local run and a run with two workers, side by side against one detector."""
    down = f"http://127.0.0.1:{free_port()}/admin/queue"
    started = {
        "local": _run(module_child_processes, tmp_path_factory.mktemp("local"), detector, down),
        "workers": _run(
            module_child_processes,
            tmp_path_factory.mktemp("workers"),
            detector,
            down,
            "--workers",
            "2",
        ),
    }
    found = {}
    for key, (child, run_dir, log) in started.items():
        code = child.wait(timeout=DEADLINE_S)  # type: ignore[attr-defined]
        found[key] = (code, read_timeline(run_dir / FILE_NAME), log.read_text())
    return found


def _by_key(timeline: Timeline) -> dict[str, list]:
    found: dict[str, list] = {}
    for second in (*timeline.seconds, *timeline.paused):
        for metric in second.metrics:
            found.setdefault(metric.key, []).append(metric)
    return found


def _requests(timeline: Timeline, name: str) -> tuple[int, int, int]:
    """``name``'s requests, failures and response bytes in the timeline."""
    records = [r for s in (*timeline.seconds, *timeline.paused) for r in s.requests]
    mine = [r for r in records if r.name == name]
    return (
        sum(r.count for r in mine),
        sum(sum(r.failures.values()) for r in mine),
        sum(r.bytes for r in mine),
    )


@pytest.mark.parametrize("mode", ["local", "workers"])
def test_response_metrics_hold_what_every_answer_held(runs, mode):
    code, timeline, log = runs[mode]
    assert code == 0, log[-3000:]
    metrics = _by_key(timeline)
    sent, failed, size = _requests(timeline, "detect")
    assert sent > 20 and failed > 0  # a fifth of the answers are errors

    server = metrics["detector.server_ms{endpoint=detect}"]
    assert sum(m.count for m in server) == sent  # every answer says how long it took
    assert sum(m.missing for m in server) == 0
    assert {(m.kind, m.unit) for m in server} == {("histogram", "ms")}

    score = metrics["detector.score{model=slow}"]  # ${MODEL} from the environment
    assert sum(m.count for m in score) == sent - failed  # an error answer has no score...
    assert sum(m.missing for m in score) == failed  # ...and is counted missing
    assert 0 < max(m.max for m in score) <= 1

    assert sum(m.sum for m in metrics["detector.bytes"]) == size

    batches, batch_failed, _ = _requests(timeline, "batch")  # a flow's request step
    results = metrics["detector.batch.results"]
    assert sum(m.count for m in results) == batches - batch_failed
    assert sum(m.sum for m in results) == 3 * (batches - batch_failed)
    assert sum(m.missing for m in results) == batch_failed


@pytest.mark.parametrize("mode", ["local", "workers"])
def test_a_gauge_is_polled_about_every_second_once_per_run(runs, mode):
    code, timeline, log = runs[mode]
    assert code == 0, log[-3000:]
    depth = _by_key(timeline)["detector.queue.depth"]
    polls = sum(m.count + m.missing for m in depth)
    # the poller runs while the run is running: its plan of DURATION_S seconds; polled on
    # the master only, so two workers do not multiply it
    assert DURATION_S // 2 <= polls <= DURATION_S + 3, [m.to_record() for m in depth]
    assert sum(m.missing for m in depth) == 0
    assert {m.kind for m in depth} == {"gauge"} and min(m.min for m in depth) >= 0


@pytest.mark.parametrize("mode", ["local", "workers"])
def test_a_gauge_whose_target_is_down_is_missing_with_one_warning(runs, mode):
    code, timeline, log = runs[mode]
    assert code == 0, log[-3000:]
    down = _by_key(timeline)["detector.down.depth"]
    assert sum(m.count for m in down) == 0
    assert sum(m.missing for m in down) >= DURATION_S  # every 500 ms
    warnings = [line for line in log.splitlines() if "gauge detector.down.depth" in line]
    assert len(warnings) == 1, warnings
    assert "Connection refused" in warnings[0] and "Traceback" not in log
