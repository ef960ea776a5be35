"""``junit.xml``: the run's verdicts as JUnit test results, for CI systems' test views.

One test suite per kind of verdict and one test case per verdict, so a CI's test page
lists exactly what failed and why:

    swarm.run           the run itself (did it finish?)
    swarm.budgets       one case per budget; classname ``swarm.budgets.<scope>``, and
                        ``swarm.budgets.metrics.<metric key>`` for a custom metric's
    swarm.validation    one case per validation rule
    swarm.comparison    one case per compared figure; classname ``swarm.comparison.<scope>``
    swarm.faults        one case per scheduled fault with a recovery SLA
    swarm.capacity      a stepped run's capacity: ``capacity`` (a failure when a
                        find_capacity run found none) and ``usl_fit``

A failing budget or a regression is a ``<failure>`` whose message names the figure and its
interval (a fault's failure, its recovery time and SLA); an inconclusive budget or fault
is ``<skipped>`` unless the budgets say inconclusive
fails (``settings["inconclusive_budgets"] == "fail"``). Built with ``xml.etree``, so every
name and message is escaped; characters XML 1.0 cannot hold are dropped. Dots in a scope
become ``_`` in the classname, since CI tools read dots as package separators.

A find_capacity run's steady-state budgets fail by design (the search steps the load up
until one does), so they are listed as reported, never as failures: the run is judged by
its ``swarm.capacity`` case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from framework.reports.capacity import capacity_headline, fit_lines
from framework.reports.faults import figure_text, recovery_text, sla_text
from framework.reports.formatting import COMPARED_UNITS, format_figure, format_value
from framework.reports.headline import headline
from framework.reports.metric_figures import budget_verdict_unit
from framework.verdicts.faults import FaultResult
from framework.verdicts.metric_budgets import is_metric_budget
from framework.verdicts.results import BudgetVerdict, ComparisonRow, Figure, MetricResult, Results

__all__ = ["render_junit"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: object) -> str:
    return _NOT_XML.sub("", str(value))


def _classname(prefix: str, scope: str) -> str:
    return f"{prefix}.{_text(scope).replace('.', '_')}" if scope else prefix


class _Suite:
    """A test suite being filled; counts are kept as cases are added."""

    def __init__(
        self, name: str, timestamp: str, properties: Mapping[str, str] | None = None
    ) -> None:
        self.element = ET.Element("testsuite", name=name, timestamp=timestamp)
        if properties:
            props = ET.SubElement(self.element, "properties")
            for key, value in properties.items():
                ET.SubElement(props, "property", name=key, value=_text(value))
        self.counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(
        self,
        classname: str,
        name: str,
        *,
        failure: tuple[str, str, str] | None = None,
        skipped: str | None = None,
        output: str = "",
    ) -> None:
        """Add a case; ``failure`` is (type, message, details)."""
        case = ET.SubElement(
            self.element, "testcase", classname=_text(classname), name=_text(name), time="0"
        )
        self.counts["tests"] += 1
        if failure is not None:
            kind, message, details = failure
            node = ET.SubElement(case, "failure", type=kind, message=_text(message))
            node.text = _text(details)
            self.counts["failures"] += 1
        elif skipped is not None:
            ET.SubElement(case, "skipped", message=_text(skipped))
            self.counts["skipped"] += 1
        if output:
            ET.SubElement(case, "system-out").text = _text(output)

    def finish(self) -> ET.Element:
        for key, value in self.counts.items():
            self.element.set(key, str(value))
        self.element.set("time", "0")
        return self.element


def _figure_details(figure: Figure, unit: str) -> str:
    lines = [f"figure: {format_figure(figure, unit)}"]
    if figure.value is not None:
        lines.append(f"confidence: {figure.confidence:.0%}; n={figure.n}")
        if figure.effective_n is not None:
            lines[-1] += f"; effective n={figure.effective_n:.0f}"
        if figure.method:
            lines.append(f"method: {figure.method}")
        lines += [f"note: {note}" for note in figure.notes]
    return "\n".join(lines)


def _budget_case(
    suite: _Suite,
    b: BudgetVerdict,
    inconclusive_fails: bool,
    *,
    reported_only: bool = False,
    metrics: Sequence[MetricResult] = (),
) -> None:
    unit = budget_verdict_unit(b, metrics)
    details = (
        f"{b.message}\n{_figure_details(b.figure, unit)}\n"
        f"budget: {format_value(b.budget, unit, compact=True)}, tolerance {b.tolerance:.0%}, "
        f"limit {format_value(b.limit, unit, compact=True)}"
    )
    prefix = "swarm.budgets.metrics" if is_metric_budget(b) else "swarm.budgets"
    classname = _classname(prefix, b.scope)
    if reported_only:
        note = "reported only: a find_capacity run is judged on its capacity (swarm.capacity)"
        suite.case(classname, b.metric, output=f"{details}\n{note}")
    elif b.verdict == "fail" or (b.verdict == "inconclusive" and inconclusive_fails):
        suite.case(classname, b.metric, failure=("budget", b.message, details))
    elif b.verdict == "inconclusive":
        suite.case(classname, b.metric, skipped=b.message, output=details)
    else:
        suite.case(classname, b.metric, output=details)


def _comparison_case(suite: _Suite, row: ComparisonRow, against: str) -> None:
    unit = COMPARED_UNITS.get(row.metric, "")
    details = (
        f"{row.message}\nbaseline ({against}): {format_value(row.baseline, unit)}; "
        f"candidate: {format_value(row.candidate, unit)}\n"
        f"p={row.p_value if row.p_value is not None else '–'}, "
        f"adjusted p={row.adjusted_p_value if row.adjusted_p_value is not None else '–'}"
    )
    classname = _classname("swarm.comparison", row.scope)
    if row.verdict == "regression":
        suite.case(classname, row.metric, failure=("regression", row.message, details))
    else:
        suite.case(classname, row.metric, output=details)


def _fault_case(suite: _Suite, fault: FaultResult, inconclusive_fails: bool) -> None:
    """A fault with a recovery SLA: fails when the recovery is beyond it (or, under
    ``inconclusive: fail``, cannot be told), skipped when inconclusive, passes otherwise."""
    during = fault.during
    details = (
        f"{fault.message}\nrecovery: {recovery_text(fault)}; SLA {sla_text(fault)}\n"
        f"during: error rate {figure_text(during and during.error_rate, '%')}, "
        f"p95 {figure_text(during and during.p95_ms)}"
    )
    message = f"fault {fault.name}: {fault.message}"
    if fault.verdict == "fail" or (fault.verdict == "inconclusive" and inconclusive_fails):
        suite.case("swarm.faults", fault.name, failure=("recovery", message, details))
    elif fault.verdict == "inconclusive":
        suite.case("swarm.faults", fault.name, skipped=message, output=details)
    else:
        suite.case("swarm.faults", fault.name, output=details)


def _capacity_suite(results: Results, stamp: str) -> _Suite:
    """The capacity found (a failure when a find_capacity run found none, skipped when
    inconclusive) and the USL fit, with the figures as suite properties."""
    found = results.capacity
    properties: dict[str, str] = {"load_unit": found.load_unit} if found else {}
    if found is not None:
        for key, figure in (
            ("peak_throughput_rps", found.peak_throughput),
            ("peak_load", found.peak_load),
            ("capacity_throughput_rps", found.capacity_throughput),
        ):
            if figure is not None and figure.value is not None:
                properties[key] = f"{figure.value:.6g}"
        if found.highest_passing_step is not None:
            properties["highest_passing_step"] = found.highest_passing_step
    suite = _Suite("swarm.capacity", stamp, properties)
    if found is None:
        return suite
    text = "\n".join(capacity_headline(found))
    if found.verdict == "fail" or (
        found.verdict == "inconclusive" and results.settings.get("inconclusive_budgets") == "fail"
    ):
        suite.case("swarm.capacity", "capacity", failure=("capacity", found.message, text))
    elif found.verdict == "inconclusive":
        suite.case("swarm.capacity", "capacity", skipped=found.message, output=text)
    else:
        suite.case("swarm.capacity", "capacity", output=text)
    suite.case("swarm.capacity", "usl_fit", output="\n".join(fit_lines(found)))
    return suite


def _timestamp(results: Results) -> str:
    """ISO 8601 without a zone (what the Ant JUnit format expects), in UTC."""
    text = str(results.run.get("started_at") or results.created_at)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _text(text)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def render_junit(results: Results) -> str:
    """The JUnit XML report of ``results``."""
    run: Mapping[str, Any] = results.run
    head = headline(results)
    properties = {
        "analysis_id": results.analysis_id,
        "run_id": str(run.get("run_id") or ""),
        "scenario": str(run.get("scenario") or ""),
        "verdict": results.verdict,
        "meets_requirements": str(results.meets_requirements).lower(),
        "trust": head.trust,
        "headline": head.text,
    }
    if results.compared_to:
        properties["compared_to"] = results.compared_to
    stamp = _timestamp(results)
    suites = []

    status = str(run.get("status") or "unknown")
    suite = _Suite("swarm.run", stamp, properties)
    message = f"the run {status}" + (f": {run['message']}" if run.get("message") else "")
    if status in ("failed", "interrupted", "aborted"):
        suite.case("swarm.run", "status", failure=("run", message, message))
    else:
        suite.case("swarm.run", "status", output=message)
    if results.evidence:
        why = "; ".join(results.evidence)
        suite.case("swarm.run", "measured", failure=("evidence", why, why))
    else:
        suite.case("swarm.run", "measured", output="successful requests in the analysed window")
    suites.append(suite)

    if results.budgets:
        suite = _Suite("swarm.budgets", stamp)
        fails = results.settings.get("inconclusive_budgets") == "fail"
        searching = results.capacity is not None and results.capacity.verdict is not None
        for budget in results.budgets:
            _budget_case(suite, budget, fails, reported_only=searching, metrics=results.metrics)
        suites.append(suite)

    if results.validation:
        suite = _Suite("swarm.validation", stamp)
        for rule in results.validation:
            if rule.passed:
                suite.case("swarm.validation", rule.rule, output=rule.message)
            else:
                failure = ("validation", rule.message, rule.message)
                suite.case("swarm.validation", rule.rule, failure=failure)
        suites.append(suite)

    judged = [f for f in results.faults if f.verdict is not None]
    if judged:
        suite = _Suite("swarm.faults", stamp)
        fails = results.settings.get("inconclusive_budgets") == "fail"
        for fault in judged:
            _fault_case(suite, fault, fails)
        suites.append(suite)

    if results.comparison:
        suite = _Suite("swarm.comparison", stamp)
        for row in results.comparison:
            _comparison_case(suite, row, results.compared_to or "baseline")
        suites.append(suite)

    if results.capacity is not None:
        suites.append(_capacity_suite(results, stamp))

    root = ET.Element("testsuites", name=_text(f"swarm {run.get('scenario') or ''}".strip()))
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in suites:
        root.append(suite.finish())
        for key in totals:
            totals[key] += suite.counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
