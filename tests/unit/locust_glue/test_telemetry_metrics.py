"""The glue's handling of custom metrics in a web-UI session: each run takes its own only."""

from __future__ import annotations

from framework.locust_glue.session import WebSession
from framework.locust_glue.telemetry import Telemetry
from framework.timeline.recorder import PAYLOAD_VERSION

T = 1_700_000_000


def _metric(t: int) -> dict:
    return {"t": t, "name": "jobs.done", "kind": "counter", "unit": "jobs", "dims": {},
            "count": 1, "sum": 2}  # fmt: skip


def test_a_session_run_keeps_only_the_metrics_of_its_own_seconds(tmp_path):
    session = WebSession(tmp_path / "session")
    telemetry = Telemetry(
        None,  # type: ignore[arg-type]  # the payload filter never touches the environment
        "master",
        path=None,
        grace_s=5.0,
        tick_s=0.5,
        sync_every_s=5.0,
        meta=None,
        session=session,
    )
    payload = {"v": PAYLOAD_VERSION, "complete_before_s": T + 2, "records": []}
    payload["metrics"] = [_metric(T - 1), _metric(T), _metric(T + 1)]
    assert telemetry._of_current_run(payload) is None  # between runs: nothing is kept
    session.open_run(T + 0.5)
    kept = telemetry._of_current_run(payload)
    assert [m["t"] for m in kept["metrics"]] == [T, T + 1]
    assert len(payload["metrics"]) == 3  # the worker's payload itself is left as it came
