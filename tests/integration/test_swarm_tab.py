"""The Swarm tab of the Locust web UI, on a real ``swarm run --web`` against a real target.

``GET /swarm/live`` is checked over HTTP on a master with two workers; the tab itself in a
headless Chromium (``browser`` fixture): start a run from the UI, open the tab, watch it fill
(a row per request name; intervals once 20 counted seconds are in), stop. Pausing and
resuming from the tab, and the links to finished runs' reports, rest on routes built apart
(``POST /swarm/pause`` / ``resume``, ``GET /swarm/runs``): their tests are separate.

Every wait is a poll with a deadline; every run is bounded by its plan and stopped at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.browser import wait_for
from tests.integration.recording_server import RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")
UI_DEADLINE_S = 40.0
INTERVALS_DEADLINE_S = 60.0  # 20 counted seconds, plus workers reporting every 3 s
PAUSED_S = 2.0
HOSTILE_NAME = '<img src=x onerror="window.swarmInjected=1">list'

SCENARIO = f"""
    name: swarm tab
    users:
      - name: visitor
        think_time: {{fixed_ms: 20}}
        requests:
          - {{name: '{HOSTILE_NAME}', path: /ok, weight: 3}}
          - {{name: submit, method: POST, path: /fail}}
    load:
      shape: constant
      users: 3
      spawn_rate: 100
      duration: 75s
    budgets:
      overall: {{p95_ms: 2000, error_rate: 60%}}
      requests:
        submit: {{error_rate: 1%}}
"""


PLUGIN = """
from locust import events

from framework import counter


@events.request.add_listener
def _count(name, **_kw):
    endpoint = "<b>hostile</b>" if "=" in name else name  # '=' is no dimension value
    counter("tab.requests", unit="requests", endpoint=endpoint).add()
"""
"""A custom metric by request, one dimension value HTML: the Custom metrics table."""


@dataclass(frozen=True)
class WebRun:
    """A ``swarm run --web`` in progress: its web UI's address and its process."""

    base: str
    process: subprocess.Popen
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _post(url: str, form: dict[str, str] | None = None) -> Any:
    data = urllib.parse.urlencode(form or {}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
        return json.load(response)


def _start(
    children,
    folder: Path,
    target: RecordingServer,
    port: int,
    *,
    workers: int = 0,
    plugin: str | None = None,
) -> WebRun:
    """``swarm run SCENARIO --web`` until its web UI answers (bounded)."""
    scenario = folder / "scenario.yaml"
    scenario.write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    run_id = f"tab-{uuid.uuid4().hex[:12]}"
    command = [str(SWARM), "run", str(scenario), "--host", target.url, "--web"]
    command += ["--web-port", str(port), "--out", str(folder / "reports"), "--run-id", run_id]
    if plugin is not None:
        (folder / "plugin.py").write_text(plugin, encoding="utf-8")
        command += ["--plugin", str(folder / "plugin.py")]
    if workers:
        command += ["--workers", str(workers)]
    log = folder / "swarm.log"
    process = children.start(command, marker=run_id, log=log, extra_env={})
    run = WebRun(f"http://127.0.0.1:{port}", process, log)

    def ready() -> bool:
        assert process.poll() is None, f"swarm exited with {process.returncode}:\n{run.tail()}"
        try:
            _get(run.base + "/swarm/live")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        if workers:
            return _get(run.base + "/stats/requests").get("worker_count") == workers
        return True

    wait_for(ready, UI_DEADLINE_S, "web UI", shown=run.tail)
    return run


def _rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in data["rows"]}


def _stop(run: WebRun) -> None:
    assert _post(run.base + "/stop")["success"] is True


def test_swarm_live_on_a_two_worker_master_gives_every_figure_of_the_tab(
    recording_server, tmp_path, child_processes, free_port
):
    run = _start(child_processes, tmp_path, recording_server, free_port(), workers=2)
    before = _get(run.base + "/swarm/live")
    assert before["state"] == "starting" and before["rows"][0]["count"] == 0

    assert _post(run.base + "/swarm", {"user_count": "1", "spawn_rate": "1"})["success"]

    def with_intervals() -> dict[str, Any] | None:
        data = _get(run.base + "/swarm/live")
        rows = _rows(data)
        named = rows.get(f"GET {HOSTILE_NAME}")
        return data if named and named["p95_ms"]["low"] is not None else None

    data = wait_for(with_intervals, INTERVALS_DEADLINE_S, "intervals", shown=run.tail)
    rows = _rows(data)
    assert set(rows) == {"Aggregated", f"GET {HOSTILE_NAME}", "POST submit"}
    named, submit = rows[f"GET {HOSTILE_NAME}"], rows["POST submit"]
    for metric in ("p50_ms", "p95_ms", "p99_ms", "throughput", "error_rate"):
        figure = named[metric]
        assert figure["low"] <= figure["value"] <= figure["high"], (metric, figure)
    assert named["p95_ms"]["value"] < 1000 and named["error_rate"]["value"] == 0
    assert submit["error_rate"]["value"] == 1.0 and submit["p95_ms"]["value"] is None
    assert named["quality"]["grade"] in ("pass", "warn", "fail")
    assert data["state"] == "running" and data["load"]["workers"] == 2
    plan = data["plan"]
    assert plan["shape"] == "constant" and plan["duration_s"] == 75
    assert 15 <= plan["elapsed_s"] <= 75 and plan["phase"]["name"] == "steady"
    budgets = {(b["scope"], b["metric"]): b["status"] for b in data["budgets"]}
    assert budgets[("overall", "error_rate")] in ("passing", "at risk")
    assert rows["Aggregated"]["budget"] in ("passing", "at risk")
    assert any("500" in f["message"] and f["key"] == "POST submit" for f in data["failures"])

    _stop(run)
    wait_for(
        lambda: _get(run.base + "/swarm/live")["state"] != "running",
        15,
        "state after Stop",
        shown=run.tail,
    )


# -- in the browser ---------------------------------------------------------------------------


def _text(browser, css: str) -> str:
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def _start_from_the_ui(browser, run: WebRun) -> None:
    """Open the web UI, press its Start button and open the Swarm tab."""
    from selenium.webdriver.common.by import By

    browser.get(run.base + "/")
    start = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "form button[type=submit]"),
        UI_DEADLINE_S,
        "Start button",
    )
    start[0].click()
    tab = wait_for(
        lambda: [
            t for t in browser.find_elements(By.CSS_SELECTOR, "[role=tab]") if t.text == "SWARM"
        ],
        UI_DEADLINE_S,
        "Swarm tab",
        shown=lambda: browser.find_element(By.TAG_NAME, "body").text,
    )
    tab[0].click()
    wait_for(
        lambda: browser.find_element(By.ID, "swarm-tab").is_displayed(),
        10,
        "swarm panel",
    )


def _panel(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, "swarm-tab").text


def _cell(browser, key: str, metric: str) -> str:
    from selenium.webdriver.common.by import By

    rows = browser.find_elements(By.CSS_SELECTOR, "#swarm-rows tr")
    for row in rows:
        if row.get_attribute("data-key") == key:
            return row.find_element(By.CSS_SELECTOR, f"td[data-metric={metric}]").text
    return ""


def _press(browser, button_id: str) -> None:
    from selenium.webdriver.common.by import By

    button = wait_for(
        lambda: (b := browser.find_element(By.ID, button_id)).is_enabled() and b,
        15,
        f"enabled {button_id}",
        shown=lambda: _panel(browser),
    )
    button.click()


def _locust_stop(browser) -> None:
    from selenium.webdriver.common.by import By

    stop = [b for b in browser.find_elements(By.TAG_NAME, "button") if b.text == "STOP"]
    assert stop, "Locust's Stop button is missing"
    stop[0].click()


def test_the_swarm_tab_fills_in_a_browser_and_follows_the_run_to_its_stop(
    recording_server, tmp_path, child_processes, free_port, browser
):
    from selenium.webdriver.common.by import By

    run = _start(child_processes, tmp_path, recording_server, free_port(), plugin=PLUGIN)
    _start_from_the_ui(browser, run)
    panel = lambda: _panel(browser)  # noqa: E731

    wait_for(lambda: _text(browser, "#swarm-state") == "running", 20, "running", shown=panel)
    key = f"GET {HOSTILE_NAME}"
    wait_for(lambda: _cell(browser, key, "count"), 20, "a row per name", shown=panel)
    keys = [
        r.get_attribute("data-key")
        for r in browser.find_elements(By.CSS_SELECTOR, "#swarm-rows tr")
    ]
    assert keys == ["Aggregated", key, "POST submit"]
    # the hostile name is text: shown as written, no element made of it, no script run
    names = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#swarm-rows td.name")]
    assert f"GET {HOSTILE_NAME}" in names
    assert browser.find_elements(By.CSS_SELECTOR, "#swarm-tab img") == []
    assert browser.execute_script("return window.swarmInjected === undefined")
    assert "phase" in _text(browser, "#swarm-position")
    assert browser.find_element(By.ID, "swarm-pause").is_enabled()
    assert not browser.find_element(By.ID, "swarm-resume").is_enabled()

    # intervals appear once enough seconds are in: "value\n[low, high]"
    p95 = wait_for(
        lambda: "[" in (cell := _cell(browser, key, "p95_ms")) and cell,
        INTERVALS_DEADLINE_S,
        "p95 interval",
        shown=panel,
    )
    value, interval = p95.split("\n")
    low, high = (float(x) for x in interval.strip("[]").split(","))
    assert low <= float(value) <= high
    assert "[" in _cell(browser, "POST submit", "error_rate")
    assert _cell(browser, "Aggregated", "quality") in ("pass", "warn", "fail")
    assert "failing" in _text(browser, "#swarm-budgets")  # submit: all fail, against 1%
    assert "submit" in _text(browser, "#swarm-failures")

    # the plugin's counter: one Custom metrics row per name, the hostile one as text
    metric_rows = lambda: browser.find_elements(By.CSS_SELECTOR, "#swarm-metric-rows tr")  # noqa: E731
    wait_for(lambda: len(metric_rows()) == 2, 10, "custom metric rows", shown=panel)
    shown = {r.get_attribute("data-key"): r.text for r in metric_rows()}
    assert set(shown) == {
        "tab.requests{endpoint=submit}",
        "tab.requests{endpoint=<b>hostile</b>}",
    }
    assert "counter" in shown["tab.requests{endpoint=submit}"]
    assert (
        "total" in shown["tab.requests{endpoint=submit}"]
        and " /s" in shown["tab.requests{endpoint=submit}"]
    )
    assert browser.find_elements(By.CSS_SELECTOR, "#swarm-tab img, #swarm-tab b") == []

    _locust_stop(browser)
    wait_for(
        lambda: _text(browser, "#swarm-state") in ("stopping", "finished"),
        20,
        "stopped state",
        shown=panel,
    )
    assert not browser.find_element(By.ID, "swarm-pause").is_enabled()
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert all("/swarm/runs" in e["message"] for e in errors), errors  # 404 until it exists


def test_pause_and_resume_from_the_swarm_tab(
    recording_server, tmp_path, child_processes, free_port, browser
):
    """Needs ``POST /swarm/pause`` and ``/swarm/resume`` (built apart, merged later)."""
    run = _start(child_processes, tmp_path, recording_server, free_port())
    _start_from_the_ui(browser, run)
    panel = lambda: _panel(browser)  # noqa: E731
    wait_for(lambda: _text(browser, "#swarm-state") == "running", 20, "running", shown=panel)

    _press(browser, "swarm-pause")
    wait_for(lambda: _text(browser, "#swarm-state") == "paused", 15, "paused", shown=panel)
    assert _get(run.base + "/swarm/live")["state"] == "paused"
    assert _get(run.base + "/swarm/live")["transitions"][-1]["state"] == "paused"
    frozen = _get(run.base + "/swarm/live")["plan"]["elapsed_s"]
    time.sleep(PAUSED_S)  # a measured interval: the plan's clock must not move in it
    assert _get(run.base + "/swarm/live")["plan"]["elapsed_s"] == frozen

    _press(browser, "swarm-resume")
    wait_for(lambda: _text(browser, "#swarm-state") == "running", 15, "resumed", shown=panel)
    wait_for(
        lambda: _get(run.base + "/swarm/live")["plan"]["elapsed_s"] > frozen,
        10,
        "the plan's clock moving again",
    )

    # a stale page: Resume pressed while running is refused, and the tab shows why
    # enabled and clicked in one script: the tab's refresh (every 250 ms) would disable it
    # again between two WebDriver calls
    browser.execute_script(
        "const b = document.getElementById('swarm-resume'); b.disabled = false; b.click();"
    )
    message = wait_for(
        lambda: (
            _text(browser, "#swarm-message")
            if "resume" in _text(browser, "#swarm-message")
            else None
        ),
        10,
        "the refusal's reason",
        shown=panel,
    )
    assert "running" in message  # "cannot resume: the run is already running"
    _locust_stop(browser)


def test_the_report_of_a_finished_run_opens_from_the_swarm_tab(
    recording_server, tmp_path, child_processes, free_port, browser
):
    """Needs ``GET /swarm/runs`` and the reports it links (built apart, merged later)."""
    from selenium.webdriver.common.by import By

    run = _start(child_processes, tmp_path, recording_server, free_port())
    _start_from_the_ui(browser, run)
    panel = lambda: _panel(browser)  # noqa: E731
    wait_for(lambda: _cell(browser, "POST submit", "count"), 30, "requests", shown=panel)
    _locust_stop(browser)
    link = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#swarm-reports a"),
        60,
        "a report link",
        shown=panel,
    )[0]
    href = link.get_attribute("href")
    assert href.startswith(run.base + "/")
    with urllib.request.urlopen(href, timeout=10) as response:
        assert response.status == 200
    browser.get(href)
    wait_for(
        lambda: "swarm tab" in browser.title, 20, "the report page", shown=lambda: browser.title
    )
