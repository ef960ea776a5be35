"""The verdict and the trust in it, together, in every format: never a plain green PASSED
on figures the scenario's own validation rules do not trust."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from framework.reports.console import summarise
from framework.reports.headline import headline
from framework.reports.html import render_html
from framework.reports.junit import render_junit
from framework.reports.markdown import escape_markdown, render_markdown
from framework.verdicts.results import QualityCheck, QualityResult, Results, ValidationMessage
from tests.fixtures.results import result_builders as rb
from tests.html_page import parse


def _with(
    results: Results,
    *,
    verdict: str = "passed",
    reasons: tuple[str, ...] = (),
    samples_ok: bool = True,
    grade: str = "pass",
    quality_ok: bool = True,
) -> Results:
    checks = (QualityCheck("precision p95", "pass", "±1%"),)
    if grade != "pass":
        checks += (
            QualityCheck("dependence p95", grade, "block bootstrap"),
            QualityCheck("stationarity mean", "warn", "too short to test drift"),
        )
    overall = results.baseline.overall
    overall = dataclasses.replace(overall, quality=QualityResult(grade, checks))  # type: ignore[arg-type]
    window = dataclasses.replace(results.baseline, overall=overall)
    validation = (
        ValidationMessage(
            "min_samples",
            samples_ok,
            "565 requests analysed" + ("" if samples_ok else ", below the minimum 1000"),
        ),
        ValidationMessage("max_ci_half_width", True, "p95 known to ±0.8%"),
        ValidationMessage("min_quality", quality_ok, f"data quality {grade}"),
        ValidationMessage("max_error_rate", True, "error rate 0.00%"),
    )
    return dataclasses.replace(
        results, baseline=window, validation=validation, verdict=verdict, reasons=reasons
    )


PASSING = rb.passing_results()
FAILED_REASON = "overall p95_ms: 812 ms [790, 840] vs budget 600 ms: fail"

CASES = {
    # name: (results, headline text, tone, trust)
    "passed, trusted": (_with(PASSING), "PASSED", "passed", "trusted"),
    "passed, quality warn": (
        _with(PASSING, grade="warn"),
        "PASSED — data quality warn: dependence p95, stationarity mean",
        "passed",
        "caveats",
    ),
    "passed, too few samples": (
        _with(PASSING, samples_ok=False),
        "PASSED — but not yet trustworthy: too few samples",
        "inconclusive",
        "untrusted",
    ),
    "passed, too few samples and quality fail": (
        _with(PASSING, samples_ok=False, grade="fail", quality_ok=False),
        "PASSED — but not yet trustworthy: too few samples; data quality fail",
        "inconclusive",
        "untrusted",
    ),
    "failed, trusted": (
        _with(PASSING, verdict="failed", reasons=(FAILED_REASON,)),
        f"FAILED — {FAILED_REASON}",
        "failed",
        "trusted",
    ),
    "failed, too few samples": (
        _with(PASSING, verdict="failed", reasons=(FAILED_REASON, "second"), samples_ok=False),
        f"FAILED — {FAILED_REASON} (and 1 more); figures not yet trustworthy: too few samples",
        "failed",
        "untrusted",
    ),
    "inconclusive, quality warn": (
        _with(PASSING, verdict="inconclusive", reasons=("p95 straddles its budget",), grade="warn"),
        "INCONCLUSIVE — p95 straddles its budget",
        "inconclusive",
        "caveats",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_headline_words_the_verdict_with_its_trust(case):
    results, text, tone, trust = CASES[case]
    found = headline(results)
    assert (found.text, found.tone, found.trust) == (text, tone, trust)


@pytest.mark.parametrize("case", list(CASES))
def test_html_banner_shows_the_verdict_and_its_trust_together(case):
    results, text, tone, trust = CASES[case]
    html = render_html(results)
    assert f'class="banner verdict-{tone}" data-trust="{trust}"' in html
    found = headline(results)
    section = html.split('id="summary"', 1)[1].split(">", 1)[1].split("</section>", 1)[0]
    banner = parse(section).plain
    assert banner.startswith(f"{found.word} {found.caveat}".strip())
    for reason in results.reasons:  # listed beside the word, in full
        assert reason in banner
    if trust == "untrusted":
        assert "565 requests analysed, below the minimum 1000" in banner
    assert f"<title>{text} ·" in html.replace("&#39;", "'")


@pytest.mark.parametrize("case", list(CASES))
def test_markdown_heading_shows_the_verdict_and_its_trust_together(case):
    results, text, tone, _trust = CASES[case]
    first = render_markdown(results).splitlines()[0]
    icon = {"passed": "✅", "failed": "❌", "inconclusive": "⚠️"}[tone]
    word, _, qualifier = text.partition(" — ")
    assert first.startswith(f"## {icon} swarm: {word} — ")
    assert first.endswith(escape_markdown(qualifier)) or not qualifier


@pytest.mark.parametrize("case", list(CASES))
def test_console_summary_opens_with_the_verdict_and_its_trust(case):
    results, text, _tone, _trust = CASES[case]
    assert summarise(results).splitlines()[0] == f"swarm report: {text}"


@pytest.mark.parametrize("case", list(CASES))
def test_junit_suite_properties_carry_the_trust_and_the_headline(case):
    results, text, _tone, trust = CASES[case]
    root = ET.fromstring(render_junit(results))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["trust"] == trust
    assert props["headline"] == text


def test_a_passed_run_below_its_validation_rules_is_never_plain_green():
    results = _with(PASSING, samples_ok=False)
    html = render_html(results)
    assert "verdict-passed" not in html.split('id="summary"', 1)[1].split(">", 1)[0]
    assert "✅" not in render_markdown(results).splitlines()[0]
