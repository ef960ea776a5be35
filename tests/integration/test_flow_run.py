"""A flow under ``swarm run --workers 2`` against a real recording server.

One run (module fixture, ~8 s of load) proves: each request step is recorded under its own
name, the whole flow and a named transaction as ``TXN``, the poll's total as ``POLL``;
captured values reach later requests (the server records what it received: the login's
token in a header, an item id in a query, each job polled until done); a capture that finds
nothing fails its request with the capture's message and ends the iteration (the step after
it is never sent, the flow's transaction fails); and the overall figures leave TXN/POLL out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from framework.timeline.endpoints import is_aggregate
from framework.timeline.reader import read_timeline
from framework.timeline.records import Timeline
from tests.integration.recording_server import JOB_POLLS, RecordedRequest, RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
RUN_DEADLINE_S = 90.0

SCENARIO = """
    name: flow run
    users:
      - name: shopper
        think_time: {fixed_ms: 50}
        on_start:
          - {name: login, method: POST, path: /login, capture: [{var: token, json: "$.token"}]}
        flow:
          - name: items
            path: /items
            headers: {Authorization: "Bearer {{ vars.token }}"}
            capture: [{var: item_id, json: "$.items[0].id"}, {var: etag, header: ETag}]
          - think: 20ms
          - transaction: checkout
            steps:
              - name: add
                method: POST
                path: /ok
                query: {item: "{{ vars.item_id }}", tag: "{{ vars.etag }}"}
              - {name: create_job, method: POST, path: /jobs, capture: [{var: job, json: "$.job"}]}
          - poll:
              request:
                name: job_status
                path: "/jobs/{{ vars.job }}"
                capture: [{var: state, json: "$.state"}]
              every: 50ms
              timeout: 5s
              until: {json: [{path: state, equals: done}]}
            name: job_done
          - {name: missing, path: /created, capture: [{var: nothing, json: "$.nope"}]}
          - {name: never, path: /slow}
        flow_name: shop
    load: {shape: constant, users: 4, spawn_rate: 4, duration: 8s}
"""


@dataclass(frozen=True)
class FlowRun:
    returncode: int
    output: str
    run_dir: Path
    timeline: Timeline
    received: list[RecordedRequest]


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory, module_child_processes) -> FlowRun:
    folder = tmp_path_factory.mktemp("flow_run")
    scenario = folder / "scenario.yaml"
    scenario.write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    run_id = f"flow-{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if k != "SWARM_HOST"}
    with RecordingServer() as target:
        command = [str(SWARM), "run", str(scenario), "--host", target.url, "--workers", "2"]
        command += ["--out", str(folder / "reports"), "--run-id", run_id]
        with (folder / "swarm.log").open("w") as log:
            swarm = module_child_processes.start(
                command, marker=run_id, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            returncode = swarm.wait(timeout=RUN_DEADLINE_S)
        received = target.requests()
    run_dir = folder / "reports" / run_id
    return FlowRun(
        returncode=returncode,
        output=(folder / "swarm.log").read_text(errors="replace"),
        run_dir=run_dir,
        timeline=read_timeline(run_dir / "timeline.jsonl"),
        received=received,
    )


def test_every_step_transaction_and_poll_is_recorded_under_its_name(flow_run):
    assert flow_run.returncode in (0, 1), flow_run.output[-3000:]
    names = set(flow_run.timeline.names())
    expected = {
        "POST login",
        "GET items",
        "POST add",
        "POST create_job",
        "GET job_status",
        "GET missing",
        "TXN checkout",
        "TXN shop",
        "POLL job_done",
    }
    assert expected <= names, names
    assert flow_run.timeline.total("TXN checkout").failure_count == 0
    assert flow_run.timeline.total("POLL job_done").failure_count == 0
    polls = flow_run.timeline.total("GET job_status").count
    assert polls >= JOB_POLLS * flow_run.timeline.total("POLL job_done").count


def test_captured_values_reach_the_later_requests(flow_run):
    items = [r for r in flow_run.received if r.path == "/items"]
    assert items and all(
        re.fullmatch(r"Bearer tok-\d+", r.header("Authorization") or "") for r in items
    )
    tokens = {r.header("Authorization") for r in items}
    assert len(tokens) <= 4  # one login per user, its token kept for the user's life
    adds = [r for r in flow_run.received if r.path == "/ok"]
    assert adds and all(r.query == {"item": ["7"], "tag": ['"v1"']} for r in adds)
    reads = Counter(r.path for r in flow_run.received if r.path.startswith("/jobs/"))
    created = sum(1 for r in flow_run.received if r.path == "/jobs")
    assert reads and len(reads) >= created - 4  # each job polled (the last ones may be cut)
    finished = [n for n in reads.values() if n >= JOB_POLLS]
    assert finished and max(reads.values()) == JOB_POLLS  # never polled past "done"


def test_a_capture_that_finds_nothing_fails_its_step_and_ends_the_iteration(flow_run):
    missing = flow_run.timeline.total("GET missing")
    assert missing.count > 0 and missing.failure_count == missing.count
    # as every failed check is written: Locust's CatchResponseError and the message
    assert set(missing.failure_messages) == {
        "CatchResponseError: capture 'nothing': $.nope found nothing"
    }
    assert "expectation" in missing.failures
    assert not [r for r in flow_run.received if r.path == "/slow"]  # "never" was never sent
    assert "GET never" not in flow_run.timeline.names()
    shop = flow_run.timeline.total("TXN shop")
    assert shop.count > 0 and shop.failure_count == shop.count


def test_overall_figures_leave_transactions_and_polls_out(flow_run):
    timeline = flow_run.timeline
    requests = sum(timeline.total(k).count for k in timeline.names() if not is_aggregate(k))
    aggregates = sum(timeline.total(k).count for k in timeline.names() if is_aggregate(k))
    assert aggregates > 0
    assert timeline.total().count == requests
    results = json.loads((flow_run.run_dir / "results.json").read_text())
    endpoints = results["baseline"]["endpoints"]
    counted = sum(e["count"] for e in endpoints if e["method"] not in ("TXN", "POLL"))
    assert results["baseline"]["overall"]["count"] == counted
    assert any(e["method"] == "TXN" for e in endpoints)
