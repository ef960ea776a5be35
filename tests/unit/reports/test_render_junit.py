"""junit.xml: valid JUnit, one case per verdict, failures that name the figure and its CI."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from framework.reports.junit import render_junit
from framework.verdicts.results import ValidationMessage
from tests.fixtures.results import result_builders as rb

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"


@pytest.fixture(scope="module")
def schema():
    """The committed JUnit schema; needs ``xmlschema`` (the test extra)."""
    xmlschema = pytest.importorskip("xmlschema", reason="pip install xmlschema (test extra)")
    return xmlschema.XMLSchema(str(FIXTURES / "junit.xsd"))


def _cases(text: str) -> list[ET.Element]:
    return list(ET.fromstring(text.encode()).iter("testcase"))


@pytest.mark.parametrize(
    "build", [rb.sample_results, rb.stepped_results, rb.passing_results, rb.empty_results]
)
def test_junit_validates_against_the_schema(schema, build):
    schema.validate(render_junit(build()).encode())


def test_one_case_per_budget_rule_and_comparison_plus_the_run():
    results = rb.sample_results()
    cases = _cases(render_junit(results))
    by_suite = {}
    for case in cases:
        by_suite.setdefault(case.get("classname").split(".")[1], []).append(case)
    assert len(by_suite["budgets"]) == len(results.budgets)
    assert len(by_suite["validation"]) == len(results.validation)
    assert len(by_suite["comparison"]) == len(results.comparison)
    assert [c.get("name") for c in by_suite["run"]] == ["status", "measured"]
    assert {c.get("classname") for c in by_suite["budgets"]} >= {
        "swarm.budgets.overall",
        "swarm.budgets./detect",
    }


def test_counts_on_suites_match_their_cases():
    root = ET.fromstring(render_junit(rb.sample_results()).encode())
    for suite in root.iter("testsuite"):
        cases = list(suite.iter("testcase"))
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
    assert int(root.get("tests")) == sum(1 for _ in root.iter("testcase"))


def test_failing_budget_message_names_the_figure_and_its_interval():
    cases = _cases(render_junit(rb.sample_results()))
    failing = next(
        c
        for c in cases
        if c.get("classname") == "swarm.budgets./detect" and c.get("name") == "p95_ms"
    )
    failure = failing.find("failure")
    assert failure is not None
    assert "p95_ms" in failure.get("message") and "[134.4, 145.6]" in failure.get("message")
    assert "figure: 140.0 ms [134.4, 145.6]" in failure.text


def test_inconclusive_budget_is_skipped_by_default_and_failed_when_settings_say_fail():
    def outcome(policy: str) -> set[str]:
        cases = _cases(render_junit(rb.sample_results(inconclusive=policy)))
        hostile = next(c for c in cases if c.get("classname") == f"swarm.budgets.{rb.HOSTILE}")
        return {child.tag for child in hostile}

    assert "skipped" in outcome("pass")
    assert "failure" in outcome("fail")


def test_regression_fails_and_improvement_passes():
    cases = _cases(render_junit(rb.sample_results()))
    cases = [c for c in cases if c.get("classname").startswith("swarm.comparison")]
    failed = {c.get("classname") for c in cases if c.find("failure") is not None}
    assert failed == {"swarm.comparison.overall", "swarm.comparison.POST /detect"}


def test_failed_validation_rule_is_a_failure():
    results = rb.sample_results()
    cases = _cases(render_junit(results))
    rule = next(c for c in cases if c.get("name") == "min_quality")
    assert rule.find("failure") is not None
    assert rb.HOSTILE in rule.find("failure").get("message")  # escaped, parsed back intact


def test_failed_run_is_a_failing_case():
    cases = _cases(render_junit(rb.empty_results()))
    run = next(c for c in cases if c.get("classname") == "swarm.run")
    assert "target unreachable" in run.find("failure").get("message")


def test_hostile_names_are_escaped_and_round_trip():
    text = render_junit(rb.sample_results())
    assert rb.HOSTILE not in text
    assert "&lt;script&gt;" in text
    names = {c.get("classname") for c in _cases(text)}
    assert f"swarm.budgets.{rb.HOSTILE}" in names


def test_dots_in_a_scope_do_not_make_packages():
    results = rb.sample_results()
    budget = dataclasses.replace(results.budgets[0], scope="api.v1.detect")
    text = render_junit(dataclasses.replace(results, budgets=(budget,)))
    assert "swarm.budgets.api_v1_detect" in {c.get("classname") for c in _cases(text)}


def test_characters_xml_cannot_hold_are_dropped(schema):
    results = rb.sample_results()
    rule = ValidationMessage("min_samples", False, "bad\x00byte\x1b[31m here")
    text = render_junit(dataclasses.replace(results, validation=(rule,)))
    schema.validate(text.encode())
    assert "badbyte[31m here" in text
