"""A suite's report in three formats from one ``SuiteResult``: suite.json, suite.md, suite.html.

``suite.md`` is for a pull-request comment or a CI summary; ``suite.html`` one self-contained
page (the run report's stylesheet inlined, no external resource), autoescaped, whose
links to each run's ``report.html`` are relative, so the reports folder can be published
or moved whole. Each file is written through a temporary file and a rename: a reader finds
the previous report or the new one, never half of one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from framework.errors import RunError
from framework.reports.formatting import format_time, format_value
from framework.reports.html_templates import inline_asset
from framework.run.folder import write_atomically, write_failure
from framework.suites.results import SuiteResult, TestResult

__all__ = ["SUITE_FILES", "figure_text", "suite_html", "suite_markdown", "write_suite_report"]

SUITE_FILES = ("suite.json", "suite.md", "suite.html")
_STATUS_MARK = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "⏭️"}
_COLUMNS = (
    ("requests", "requests", ""),
    ("throughput", "throughput_rps", "rps"),
    ("p95", "p95_ms", "ms"),
    ("error rate", "error_rate", "%"),
)


def figure_text(figure: Mapping[str, Any] | None, unit: str) -> str:
    """``475.0 ms [454.0, 478.6]``; ``1,234`` for a count; ``–`` when unknown."""
    if not figure or figure.get("value") is None:
        return "–"
    if unit == "":
        return f"{int(figure['value']):,}"
    shown = format_value(figure["value"], unit)
    low, high = figure.get("low"), figure.get("high")
    if low is None or high is None:
        return shown
    return (
        f"{shown} [{format_value(low, unit, with_unit=False)}, "
        f"{format_value(high, unit, with_unit=False)}]"
    )


def _headline(result: SuiteResult) -> str:
    summary = result.summary()
    word = "interrupted" if result.interrupted else (
        "passed" if result.exit_code == 0 else "failed"
    )  # fmt: skip
    return f"{word}: {summary['passed']} of {summary['total']} tests passed"


def _scaling_markdown(test: TestResult) -> str:
    from framework.reports.scalability import scaling_markdown

    return scaling_markdown(test.scaling)


def _scaling_html(test: TestResult, entry: Mapping[str, Any]) -> Markup:
    from framework.reports.scalability import scaling_html

    return scaling_html(test.scaling, links={run["run_id"]: run["report"] for run in entry["runs"]})


def suite_markdown(result: SuiteResult) -> str:
    """The suite as GitHub-flavoured Markdown: summary, one table per test type, reasons."""
    summary = result.summary()
    lines = [f"# Suite {result.name}: {_headline(result)}", ""]
    if result.description:
        lines += [result.description, ""]
    rate = summary["success_rate"]
    lines += [
        "| total | passed | failed | skipped | success rate | duration | started |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {summary['total']} | {summary['passed']} | {summary['failed']} | "
        f"{summary['skipped']} | {'–' if rate is None else f'{rate:.0%}'} | "
        f"{summary['duration_seconds']:.0f} s | {format_time(result.started_at)} |",
        "",
    ]
    for kind, tests in result.by_type().items():
        lines += [f"## {kind}", ""]
        header = " | ".join(name for name, _, _ in _COLUMNS)
        lines += [
            f"| test | status | verdict | {header} | report |",
            "| --- | --- | --- | " + " | ".join("---" for _ in _COLUMNS) + " | --- |",
        ]
        for test in tests:
            entry = test.to_dict(result.suite_dir)
            cells = [figure_text(entry["figures"].get(key), unit) for _, key, unit in _COLUMNS]
            link = f"[report]({entry['report']})" if entry["report"] else "–"
            lines.append(
                f"| {_md(test.name)} | {_STATUS_MARK[test.status]} {test.status} | "
                f"{test.verdict or '–'} | {' | '.join(cells)} | {link} |"
            )
        lines.append("")
        for test in tests:
            entry = test.to_dict(result.suite_dir)
            if entry["findings"]:
                lines += [f"**{_md(test.name)}** found:", ""]
                lines += [f"- {_md(finding)}" for finding in entry["findings"]]
                lines.append("")
            if test.reasons and test.status != "passed":
                lines += [f"**{_md(test.name)}** ({test.status}):", ""]
                lines += [f"- {_md(reason)}" for reason in test.reasons]
                lines.append("")
            if test.scaling is not None:
                lines += [f"### {_md(test.name)}: scaling", "", _scaling_markdown(test), ""]
    return "\n".join(lines).rstrip() + "\n"


def _md(text: str) -> str:
    """Text safe in a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("framework.suites", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def suite_html(result: SuiteResult) -> str:
    """The suite as one self-contained HTML page."""
    groups = []
    for kind, tests in result.by_type().items():
        rows = []
        for test in tests:
            entry = test.to_dict(result.suite_dir)
            rows.append(
                {
                    "test": test,
                    "entry": entry,
                    "cells": [
                        figure_text(entry["figures"].get(key), unit) for _, key, unit in _COLUMNS
                    ],
                    "scaling": _scaling_html(test, entry) if test.scaling is not None else None,
                }
            )
        groups.append({"type": kind, "rows": rows})
    return (
        _environment()
        .get_template("suite.html.j2")
        .render(
            r=result,
            headline=_headline(result),
            summary=result.summary(),
            groups=groups,
            columns=[name for name, _, _ in _COLUMNS],
            started=format_time(result.started_at),
            css=inline_asset("report.css"),
        )
    )


def write_suite_report(result: SuiteResult, folder: Path) -> dict[str, Path]:
    """Write suite.json, suite.md and suite.html into ``folder``; ``RunError`` if it cannot."""
    texts = {
        "suite.json": json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n",
        "suite.md": suite_markdown(result),
        "suite.html": suite_html(result),
    }
    written = {}
    for name, text in texts.items():
        target = folder / name
        try:
            write_atomically(target, text)
        except OSError as exc:
            raise RunError(write_failure(target, exc), path=target) from None
        written[name] = target
    return written
