"""Write a run's reports into its folder: one renderer per format, all from ``Results``.

``RENDERERS`` maps a file name to a function of the results returning the file's text;
``write_reports`` writes every one and returns their paths, so a new format is one entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import orjson

from framework.errors import ReportError
from framework.reports.html import render_html
from framework.reports.junit import render_junit
from framework.reports.markdown import render_markdown
from framework.reports.prometheus import render_prometheus
from framework.run.folder import write_atomically, write_failure
from framework.verdicts.results import Results

__all__ = ["LOCUST_REPORT", "RENDERERS", "write_reports"]

LOCUST_REPORT = "locust_report.html"
"""Locust's own HTML report in a run folder (``--html``), linked from report.html."""

Renderer = Callable[[Results], str]


def _results_json(results: Results) -> str:
    data = results.to_dict()
    try:  # orjson writes the hour's per-second series ten times faster, in the same layout
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"
    except TypeError:  # an integer past 64 bits
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Renderer] = {
    "results.json": _results_json,
    "report.html": render_html,
    "report.md": render_markdown,
    "junit.xml": render_junit,
    "metrics.prom": render_prometheus,
}


def write_reports(run_dir: Path, results: Results) -> dict[str, Path]:
    """Render every format into ``run_dir`` (each file replaced atomically); report.html
    links Locust's own report when the folder has one.

    A file that cannot be written (a full disk) is a ``ReportError`` naming it and why,
    with no ``.tmp`` left behind.
    """
    written = {}
    locust_report = LOCUST_REPORT if (run_dir / LOCUST_REPORT).is_file() else None
    for name, render in RENDERERS.items():
        target = run_dir / name
        text = (
            render_html(results, locust_report=locust_report)
            if render is render_html
            else render(results)
        )
        try:
            write_atomically(target, text)
        except OSError as exc:
            raise ReportError(write_failure(target, exc), path=target) from None
        written[name] = target
    return written
