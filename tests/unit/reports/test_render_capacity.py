"""The capacity section in every report format, from hand-built step windows."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import pytest

from framework.reports.chart_capacity import capacity_chart
from framework.reports.console import summarise
from framework.reports.html import render_html
from framework.reports.junit import render_junit
from framework.reports.markdown import render_markdown
from framework.verdicts.capacity import capacity
from tests.fixtures.results import result_builders as rb
from tests.unit.verdicts.test_capacity import (
    P95_BUDGET,
    SEARCH,
    closed_run,
    open_run,
    rising_p95,
    step,
    usl_steps,
)


def with_capacity(found, *, budgets=()):
    results = rb.sample_results()
    return dataclasses.replace(results, capacity=found, steps=(), budgets=budgets or ())


@pytest.fixture(scope="module")
def stepped():
    return with_capacity(capacity(usl_steps(p95=rising_p95), P95_BUDGET, closed_run()))


def test_markdown_shows_the_capacity_the_peak_each_step_and_the_fit(stepped):
    text = render_markdown(stepped)
    section = text[text.index("### Capacity") :]
    assert "- capacity 20 users, " in section
    assert "- Predicted peak: " in section and " users" in section
    assert "| Step | Users | Throughput | Fitted | Budgets |" in section
    assert "| step 3 ⬅ capacity | 20 |" in section
    assert "❌ fail" in section and "⚠️ inconclusive" in section
    assert "- κ (coherency) = " in section
    assert "parametric bootstrap" in section


def test_html_draws_measured_points_the_fitted_curve_and_the_peak(stepped):
    page = render_html(stepped)
    section = page[page.index('<section id="capacity"') :]
    section = section[: section.index("</section>")]
    assert 'href="#capacity"' in page
    assert section.count('class="point"') == 6
    assert 'class="series fitted"' in section
    assert 'class="peak"' in section
    assert 'class="passing"' in section  # the capacity step is ringed
    assert "predicted peak" in section
    assert '<span class="pill knee">capacity</span>' in section


def test_console_gives_the_capacity_and_the_peak(stepped):
    lines = [
        line for line in summarise(stepped).splitlines() if "capacity" in line or "peak" in line
    ]
    assert lines[0].startswith("  capacity 20 users, ")
    assert lines[1].startswith("  predicted peak: ")


def test_junit_has_a_capacity_suite_with_the_figures_as_properties(stepped):
    root = ET.fromstring(render_junit(stepped).encode())
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "swarm.capacity")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["highest_passing_step"] == "step 3"
    assert props["load_unit"] == "users"
    assert float(props["peak_load"]) == pytest.approx(stepped.capacity.peak_load.value, rel=1e-5)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"capacity", "usl_fit"}
    assert cases["capacity"].find("failure") is None


def test_a_find_capacity_run_that_found_none_fails_its_junit_case_not_its_budgets():
    found = capacity(usl_steps(p95=lambda u: 400.0), P95_BUDGET, closed_run("find_capacity"))
    budgets = tuple(rb.sample_results().budgets)
    results = with_capacity(found, budgets=budgets)
    root = ET.fromstring(render_junit(results).encode())
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["swarm.capacity"].find("testcase/failure") is not None
    assert suites["swarm.budgets"].find("testcase/failure") is None  # reported only
    assert "reported only" in ET.tostring(suites["swarm.budgets"], encoding="unicode")
    assert "judged on the capacity found" in render_markdown(results)


def test_a_run_without_a_fit_says_why_in_every_format():
    found = capacity(usl_steps()[:3], None, closed_run(users=(5, 10, 20)))
    results = with_capacity(found)
    why = "a fit needs at least 4"
    assert why in render_markdown(results)
    assert why in render_html(results)
    assert why in summarise(results)
    assert why in render_junit(results)


def test_an_open_run_shows_arrivals_and_concurrency():
    steps = [step(f"step {i + 1}", None, x, mean_ms=50.0) for i, x in enumerate((10, 20, 30, 40))]
    results = with_capacity(capacity(steps, None, open_run((10, 20, 30, 40))))
    text = render_markdown(results)
    assert "| Step | Arrivals/s | Concurrency (X·R) | Throughput | Fitted | Budgets |" in text
    assert "concurrency" in capacity_chart(results.capacity)


def test_results_json_carries_the_capacity_and_the_search(stepped):
    found = capacity(
        usl_steps(p95=rising_p95), P95_BUDGET, closed_run("find_capacity", search=SEARCH)
    )
    data = json.loads(json.dumps(with_capacity(found).to_dict()))
    section = data["capacity"]
    assert section["verdict"] == "pass"
    assert section["search"] == SEARCH
    assert section["highest_passing_step"] == "step 3"
    assert section["fit"]["kappa_ci"][0] <= section["fit"]["kappa"] <= section["fit"]["kappa_ci"][1]
    assert section["points"][0]["throughput"]["low"] is not None


def test_an_unbounded_peak_is_null_in_json_and_infinity_in_text():
    found = capacity(usl_steps(p95=rising_p95), None, closed_run())
    unbounded = dataclasses.replace(
        found, peak_load=dataclasses.replace(found.peak_load, high=None), extrapolated=True
    )
    results = with_capacity(unbounded)
    assert results.to_dict()["capacity"]["peak_load"]["high"] is None
    assert "∞)" in render_markdown(results)
    assert "an extrapolation" in render_markdown(results)
