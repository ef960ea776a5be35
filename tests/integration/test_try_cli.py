"""``swarm try`` as a user runs it: a real ``swarm`` process against a real HTTP server.

One recording server (its own process) serves the module; each test runs ``swarm try`` once
(a second or two each) and reads what it printed, its exit code, and what the server
received: a value captured from one response reaches the next request, a secret is sent
as it is but printed masked, a failed check exits 1, a target that is down exits 3, an
invalid scenario exits 2 with its line, Ctrl-C exits 130 — and no run folder is written.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.child_processes import REPO_ROOT
from tests.integration.recording_server import JOB_POLLS, RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
DEADLINE_S = 60.0
API_KEY = "k-try-7c1e9a"

FLOW = """\
name: try-flow
headers: {X-API-Key: "${TRY_API_KEY}"}
secrets: [token]
users:
  - name: shopper
    on_start:
      - {name: login, method: POST, path: /login, json: {user: bob},
         capture: [{var: token, json: "$.token"}]}
    flow:
      - {name: list, method: GET, path: /items, headers: {Authorization: "Bearer {{ vars.token }}"},
         capture: [{var: item_id, json: "$.items[0].id"}, {var: etag, header: ETag}]}
      - {name: submit, method: POST, path: /jobs, json: {item: "{{ vars.item_id }}"},
         headers: {If-Match: "{{ vars.etag }}"}, capture: [{var: job, json: "$.job"}]}
      - poll:
          request: {name: job_status, method: GET, path: "/jobs/{{ vars.job }}",
                    expect: {status: 200}}
          every: 50ms
          timeout: 10s
          until: {json: [{path: state, equals: done}]}
        name: job_done
      - {name: check, method: GET, path: /ok, expect: {json: [{path: verdict, equals: clean}]}}
  - name: reader
    requests:
      - {name: created, method: POST, path: /created, expect: {status: 201}}
load: {shape: constant, users: 1, duration: 5s}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as recording:
        yield recording


def _swarm(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SWARM), *args],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TRY_API_KEY": API_KEY}
    env.pop("SWARM_HOST", None)
    return env


def _write(folder: Path, text: str, name: str = "try.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr


def test_a_captured_value_reaches_the_next_request_and_secrets_are_sent_but_masked(
    server: RecordingServer, tmp_path: Path
) -> None:
    server.reset()
    _write(tmp_path, FLOW)
    done = _swarm(tmp_path, "try", "try.yaml", "--host", server.url)
    _no_traceback(done)
    assert done.returncode == 0, done.stdout + done.stderr
    paths = [r.path for r in server.requests()]
    job = server.requests("/jobs")[0]
    polls = [p for p in paths if p.startswith("/jobs/")]
    assert paths == ["/login", "/items", "/jobs", *polls, "/ok", "/created"]
    assert len(polls) == JOB_POLLS and set(polls) == {"/jobs/j1"}  # $.job of /jobs
    assert job.json() == {"item": 7}  # $.items[0].id of /items, its type kept
    assert job.header("If-Match") == '"v1"'  # the ETag header of /items
    # the token from /login is sent as it is, and printed masked (``secrets: [token]``)
    assert server.requests("/items")[0].header("Authorization") == "Bearer tok-1"
    assert {r.header("X-API-Key") for r in server.requests()} == {API_KEY}
    output = done.stdout + done.stderr
    assert API_KEY not in output and "tok-1" not in output
    assert "X-API-Key: ***" in done.stdout and "Authorization: Bearer ***" in done.stdout
    assert '{"token": "***"}' in done.stdout and 'capture token = "***"' in done.stdout
    assert f"GET {server.url}/jobs/j1" in done.stdout
    assert "capture item_id = 7  (" in done.stdout
    assert 'capture etag = "\\"v1\\""' in done.stdout
    assert '✓ check: status below 400, json verdict = "clean"' in done.stdout
    assert "poll job_done:" in done.stdout and "transaction shopper:" in done.stdout
    assert "── users entry 'reader'" in done.stdout and "✓ created: status 201" in done.stdout
    assert f"{5 + JOB_POLLS} requests sent, {5 + JOB_POLLS} answered" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["try.yaml"]  # no run folder


def test_a_failed_check_exits_1_and_says_what_was_expected(
    server: RecordingServer, tmp_path: Path
) -> None:
    server.reset()
    _write(tmp_path, FLOW.replace("equals: clean", "equals: dirty"))
    args = ("--user", "shopper", "--requests", "2", "--body-limit", "10")
    done = _swarm(tmp_path, "try", "try.yaml", "--host", server.url, *args)
    _no_traceback(done)
    assert done.returncode == 1, done.stdout + done.stderr
    # on_start once, the flow twice (--requests 2), the other entry not at all (--user)
    assert [len(server.requests(p)) for p in ("/login", "/items", "/ok", "/created")] == [
        1,
        2,
        2,
        0,
    ]
    assert "✗ json verdict = 'clean', expected 'dirty'" in done.stdout
    assert '  {"verdict"… (41 more chars)' in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["try.yaml"]


def test_a_target_that_is_down_exits_3(tmp_path: Path, free_port) -> None:
    _write(tmp_path, FLOW)
    done = _swarm(tmp_path, "try", "try.yaml", "--host", f"http://127.0.0.1:{free_port()}")
    _no_traceback(done)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "could not reach http://127.0.0.1:" in done.stderr
    assert "(no response: ConnectionRefusedError)" in done.stderr
    assert "the flow and requests are not tried" in done.stdout  # on_start's login failed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["try.yaml"]


def test_an_unknown_variable_exits_2_with_its_line_and_sends_nothing(
    server: RecordingServer, tmp_path: Path
) -> None:
    server.reset()
    _write(tmp_path, FLOW.replace("{{ vars.job }}", "{{ vars.jbo }}"))
    done = _swarm(tmp_path, "try", "try.yaml", "--host", server.url)
    _no_traceback(done)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "try.yaml:15:" in done.stderr and "jbo" in done.stderr
    assert server.requests() == []


def test_ctrl_c_during_a_poll_exits_130(server: RecordingServer, tmp_path: Path) -> None:
    poll = FLOW.replace("equals: done", "equals: never").replace("timeout: 10s", "timeout: 60s")
    _write(tmp_path, poll)
    server.reset()
    child = subprocess.Popen(
        [str(SWARM), "try", "try.yaml", "--host", server.url],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:  # polling: /ok is asked again and again
            if len(server.requests()) >= 3 + JOB_POLLS + 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the poll never started")
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=DEADLINE_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["try.yaml"]
