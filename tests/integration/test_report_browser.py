"""report.html in a real browser: headless Chromium opens it from disk with the network
blocked, and the page must draw its charts, fill its tables, log no console error and make
no request at all.

Dependency-light on purpose: Chromium's own switches do the work. ``--dump-dom`` gives the
DOM after the page's script ran, ``--enable-logging=stderr`` prints console messages and
uncaught exceptions (``CONSOLE`` lines), ``--log-net-log`` records every request the page
starts, and a proxy to a closed port makes any request that slipped through fail. Needs
Debian's ``chromium`` package (``apt-get install chromium``); skipped without it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from framework.reports.html import render_html
from tests.fixtures.results import result_builders as rb

pytestmark = pytest.mark.integration

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
BROWSER_TIMEOUT_S = 90
_CONSOLE = re.compile(r":CONSOLE[(:]\d*\)?\]\s*(.*)")


@dataclass(frozen=True)
class Visit:
    """What Chromium saw of one page."""

    dom: str
    console: list[str]
    requests: list[str]
    stderr: str


def _chromium(profile: Path, *switches: str) -> tuple[str, str]:
    """Run headless Chromium to completion; on timeout its whole process group is killed."""
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--no-first-run",
        "--no-default-browser-check", f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        "--enable-logging=stderr", "--v=0", "--hide-scrollbars", *switches,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=BROWSER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium did not finish within {BROWSER_TIMEOUT_S} s")
    return out, err


def _page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for (the browser's own background requests left out)."""
    if not net_log.exists():
        return []
    data = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in data.get("events", []):
        params = event.get("params") or {}
        url = params.get("url", "")
        if event.get("type") != start_job or params.get("initiator") == "not an origin":
            continue
        if url and not url.startswith(("file:", "data:")):
            urls.append(url)
    return urls


def visit(page: Path, tmp_path: Path) -> Visit:
    net_log = tmp_path / f"{page.stem}-netlog.json"
    out, err = _chromium(
        tmp_path / f"{page.stem}-profile", f"--log-net-log={net_log}", "--dump-dom",
        page.as_uri(),
    )  # fmt: skip
    console = [m.group(1) for line in err.splitlines() if (m := _CONSOLE.search(line))]
    return Visit(out, console, _page_requests(net_log), err)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.fixture
def report(tmp_path: Path):
    def write(results, name: str = "report.html") -> Path:
        path = tmp_path / name
        path.write_text(render_html(results), encoding="utf-8")
        return path

    return write


def test_checks_catch_a_page_that_errs_and_goes_online(tmp_path):
    """The negative checks below mean something: a broken page is caught by each."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><img src="http://198.51.100.7/pixel.png">'
        '<script>console.error("boom"); notDefined();</script></body></html>',
        encoding="utf-8",
    )
    seen = visit(bad, tmp_path)
    assert any("Uncaught ReferenceError" in m for m in seen.console), seen.stderr[-2000:]
    assert any("boom" in m for m in seen.console)
    assert seen.requests == ["http://198.51.100.7/pixel.png"]


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (rb.sample_results, ["POST /detect", f"GET {rb.HOSTILE}", "PUT say"]),
        (rb.stepped_results, ["POST /detect", "step 3"]),
    ],
)
def test_report_opens_offline_draws_charts_and_fills_tables(report, tmp_path, build, names):
    seen = visit(report(build()), tmp_path)
    assert seen.console == [], seen.console
    assert seen.requests == [], seen.requests
    dom = seen.dom
    assert 'data-ready="true"' in dom, "the report's script did not run to the end"
    charts = re.findall(r'<svg[^>]*class="chart line-chart"', dom)
    assert len(charts) == 3
    series = re.findall(r'<path class="series" d="M[\d.]+ [\d.]+[LH]', dom)
    assert len(series) >= 7, "chart lines missing"
    assert dom.count('class="cursor"') == 3, "pointer read-outs were not attached"
    table = dom.split('id="requests-table"', 1)[1].split("</thead>", 1)[1].split("</table>")[0]
    rows = re.findall(r"<tr>.*?</tr>", table, re.S)
    assert len(rows) == len(build().baseline.endpoints) + 1
    for name in names:
        escaped = name.replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in dom, name
    assert len(re.findall(r"<script\b", dom)) == 1, "a request name became a script element"


def test_screenshot_shows_the_whole_report(report, tmp_path):
    page = report(rb.sample_results())
    shot = tmp_path / "report.png"
    _chromium(
        tmp_path / "shot-profile", "--window-size=1360,4200", f"--screenshot={shot}",
        page.as_uri(),
    )  # fmt: skip
    assert shot.exists(), "no screenshot written"
    assert _png_size(shot) == (1360, 4200)
    assert shot.stat().st_size > 50_000, "the screenshot looks blank"
    print(f"screenshot: {shot}")
