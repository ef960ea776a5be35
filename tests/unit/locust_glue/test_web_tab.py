"""The swarm tab's glue on a real Locust ``WebUI`` (not served: Flask's test client asks).

Locust's web UI parses ``sys.argv`` for its form's extra options, so each test sets a
command line Locust understands.
"""

from __future__ import annotations

import re
import sys

import pytest
from locust import FastHttpUser, task
from locust.env import Environment

from framework.live.budget_status import budget_limits
from framework.locust_glue import telemetry, web_tab
from framework.plan import shapes
from framework.plan.record import PlanRecord
from framework.scenario.budgets import Budgets
from framework.timeline.records import RequestSecond, Second

PLAN = PlanRecord.from_plan(shapes.constant(users=2, spawn_rate=2, duration_s=30))
LIMITS = budget_limits(Budgets.model_validate({"overall": {"p95_ms": 100}}))


class _Visitor(FastHttpUser):
    host = "http://127.0.0.1:9"

    @task
    def nothing(self) -> None:
        """Never run: these tests start no load."""


@pytest.fixture(autouse=True)
def _locust_command_line(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["locust"])


@pytest.fixture
def environment():
    env = Environment(user_classes=[_Visitor])
    env.create_local_runner()
    env.create_web_ui("127.0.0.1", 0, delayed_start=True)
    telemetry.install(env, None)
    yield env
    env.runner.quit()


def test_the_tab_is_registered_and_its_data_comes_from_the_feed(environment):
    view = web_tab.install(environment, plan=PLAN, limits=LIMITS)
    assert view is not None
    feed = telemetry.feed_of(environment)
    feed.move("running", 1.0)
    name = '<img src=x onerror="alert(1)">'
    feed.add_second(
        Second(
            t=1, users=2, workers=1, requests=(RequestSecond.from_latencies(1, "GET", name, [5.0]),)
        )
    )
    client = environment.web_ui.app.test_client()

    live = client.get("/swarm/live")
    assert live.status_code == 200 and live.headers["Cache-Control"] == "no-store"
    data = live.get_json()
    assert data["state"] == "running"
    assert [r["key"] for r in data["rows"]] == ["Aggregated", f"GET {name}"]
    assert data["budgets"][0]["metric"] == "p95_ms" and data["plan"]["duration_s"] == 30

    page = client.get("/").get_data(as_text=True)
    assert page.count('<script src="./swarm/tab.js" defer></script>') == 1
    assert {"title": "Swarm", "key": "swarm"} in environment.web_ui.template_args["extended_tabs"]
    script = client.get("/swarm/tab.js")
    assert script.mimetype == "application/javascript"
    body = script.get_data(as_text=True)
    assert re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", body) is None
    assert "textContent" in body


def test_custom_metrics_reach_the_tab_and_the_web_uis_metrics_route(environment):
    """One second with a counter and a gauge: the tab's JSON lists both, the script draws a
    Custom metrics table, and ``GET /metrics`` on the same app has their families."""
    import shutil
    import subprocess

    from framework.locust_glue import metrics_server
    from framework.timeline.metric_records import MetricSecond

    web_tab.install(environment, plan=PLAN, limits=LIMITS)
    metrics_server.install(environment, scenario="s", budgets=None)
    feed = telemetry.feed_of(environment)
    feed.move("running", 1.0)
    metrics = (
        MetricSecond(t=1, name="detector.batch.items", kind="counter", unit="items",
                     dims=(("model", "<b>fast</b>"),), count=2, sum=6),
        MetricSecond(t=1, name="detector.queue.depth", kind="gauge", unit="jobs", count=1,
                     sum=4.0, min=4.0, max=4.0, last=4.0, last_at=1.5),
    )  # fmt: skip
    feed.add_second(Second(t=1, users=2, workers=1, metrics=metrics))
    client = environment.web_ui.app.test_client()
    rows = {row["key"]: row for row in client.get("/swarm/live").get_json()["metrics"]}
    assert rows["detector.batch.items{model=<b>fast</b>}"]["run"] == {"total": 6.0, "rate": 6.0}
    assert rows["detector.queue.depth"]["last"] == 4.0
    assert "Custom metrics" in client.get("/swarm/tab.js").get_data(as_text=True)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'swarm_custom_detector_batch_items_total{model="<b>fast</b>"} 6.0' in text
    assert "swarm_custom_detector_queue_depth 4.0" in text
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert checked.returncode == 0, checked.stderr


def test_nothing_is_installed_without_a_web_ui():
    env = Environment(user_classes=[_Visitor])
    env.create_local_runner()
    telemetry.install(env, None)
    try:
        assert web_tab.install(env, plan=PLAN, limits=LIMITS) is None
    finally:
        env.runner.quit()


def test_nothing_is_installed_without_a_live_feed():
    env = Environment(user_classes=[_Visitor])
    env.create_local_runner()
    env.create_web_ui("127.0.0.1", 0, delayed_start=True)
    try:
        assert web_tab.install(env, plan=PLAN, limits=LIMITS) is None
        assert env.web_ui.app.test_client().get("/swarm/live").status_code == 404
    finally:
        env.runner.quit()
