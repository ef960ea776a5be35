"""Custom metrics recorded by a plugin in real ``swarm run``s, local and with two workers.

The plugin records, with ``from framework import ...`` as a user would, on every request
event (on the load generators): a counter of the response bytes, a histogram of the
response time with a dimension, and a meter per endpoint; and on the master (or local
process), for every second the live feed closes, a gauge. The timeline's ``met`` lines must
hold exactly what was recorded: the counter's total equals the requests' bytes in the same
timeline, the histogram's and meter's counts equal the request count.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME, Timeline
from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
DEADLINE_S = 120.0

SCENARIO = """
    name: custom metrics
    host: HOST
    users:
      - name: caller
        think_time: {fixed_ms: 20}
        requests:
          - {name: ok, path: /ok}
          - {name: missing, path: /nowhere}
    load: {shape: constant, users: 4, spawn_rate: 40, duration: 5s}
"""

PLUGIN = """
    from locust import events

    from framework import counter, gauge, histogram, meter
    from framework.locust_glue.telemetry import feed_of


    @events.request.add_listener
    def _measure(request_type, name, response_time, response_length, **_kw):
        counter("plugin.bytes", unit="bytes").add(response_length or 0)
        histogram("plugin.response_ms", unit="ms", method=request_type).record(response_time or 0)
        meter("plugin.requests", unit="requests", endpoint=name).mark()


    @events.init.add_listener
    def _on_master(environment, **_kw):
        feed = feed_of(environment)
        if feed is None:  # a worker
            return

        def closed(*, second, **_kw):
            gauge("plugin.closed.requests", unit="requests").set(second.count)

        feed.second_closed.add_listener(closed)
"""


def _run(children, folder: Path, host: str, *extra: str) -> tuple[int, Path, str]:
    scenario = folder / "scenario.yaml"
    scenario.write_text(textwrap.dedent(SCENARIO).replace("HOST", host), encoding="utf-8")
    plugin = folder / "measure.py"
    plugin.write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    run_id = f"metrics-{uuid.uuid4().hex[:10]}"
    out = folder / "reports"
    log = folder / f"{run_id}.out"
    command = [str(SWARM), "run", str(scenario), "--plugin", str(plugin), *extra]
    child = children.start(
        [*command, "--out", str(out), "--run-id", run_id],
        marker=run_id,
        log=log,
        extra_env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    )
    return child, out / run_id, log


@pytest.fixture(scope="module")
def runs(tmp_path_factory, module_child_processes) -> dict[str, tuple[int, Timeline, str]]:
    """A local run and a run with two workers, side by side against one target."""
    with RecordingServer() as server:
        started = {
            "local": _run(module_child_processes, tmp_path_factory.mktemp("local"), server.url),
            "workers": _run(
                module_child_processes,
                tmp_path_factory.mktemp("workers"),
                server.url,
                "--workers",
                "2",
            ),
        }
        found = {}
        for key, (child, run_dir, log) in started.items():
            code = child.wait(timeout=DEADLINE_S)
            found[key] = (code, read_timeline(run_dir / FILE_NAME), log.read_text())
    return found


def _all_seconds(timeline: Timeline):
    return (*timeline.seconds, *timeline.paused)


@pytest.mark.parametrize("mode", ["local", "workers"])
def test_met_lines_hold_exactly_what_the_plugin_recorded(runs, mode):
    code, timeline, log = runs[mode]
    assert code == 0, log[-3000:]
    assert timeline.header["version"] == 4 and timeline.complete
    assert timeline.damaged_records == 0
    seconds = _all_seconds(timeline)
    requests = [r for s in seconds for r in s.requests]
    metrics = [m for s in seconds for m in s.metrics]
    total_requests = sum(r.count for r in requests)
    assert total_requests > 20

    by_key: dict[str, list] = {}
    for m in metrics:
        by_key.setdefault(m.key, []).append(m)
    assert sum(m.sum for m in by_key["plugin.bytes"]) == sum(r.bytes for r in requests)
    assert sum(m.count for m in by_key["plugin.bytes"]) == total_requests
    response = by_key["plugin.response_ms{method=GET}"]
    assert sum(m.count for m in response) == total_requests
    assert sum(m.histogram().get_total_count() for m in response) == total_requests
    for endpoint in ("ok", "missing"):
        marked = sum(m.sum for m in by_key[f"plugin.requests{{endpoint={endpoint}}}"])
        assert marked == sum(r.count for r in requests if r.name == endpoint)
    assert {m.kind for m in response} == {"histogram"}
    assert {m.unit for m in by_key["plugin.bytes"]} == {"bytes"}

    gauges = by_key["plugin.closed.requests"]  # set on the master (or local process)
    assert gauges and all(m.kind == "gauge" and m.last is not None for m in gauges)
    assert max(m.max for m in gauges) > 0
    assert timeline.metric_series()[0][0].startswith("plugin.")
    combined = timeline.metric_seconds("plugin.requests")
    assert sum(m.sum for m in combined) == total_requests
