"""The history page: one metric across a scenario's runs, with the runs where its level moved.

``swarm history SCENARIO --html`` writes it beside the text trend. It shows the metric over
the runs as ``chart_trend.trend_chart`` draws it (each run with its confidence interval,
every change point that ``history.trend`` found labelled, red when worse, green when
better), lists the runs (time, git revision, value with its interval, verdict), and adds
small multiples of the overall p95, throughput and error rate. Like the run report it is
one autoescaped file with no external resources, so it works from disk with no network.

Example::

    store = ResultsStore(Path("reports"))
    shown = trend(store.history("checkout", "overall", "p95"), metric="p95", scenario="checkout")
    page = write_history_page(store, shown)     # reports/history-checkout.html
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from framework.errors import SwarmError
from framework.reports.formatting import format_value
from framework.reports.html_templates import render_page
from framework.store.history import HIGHER_IS_BETTER, Trend, trend
from framework.store.records import RunSummary
from framework.store.results_store import ResultsStore
from framework.store.trend_chart import trend_chart, trend_unit
from framework.timeline.endpoints import OVERALL

__all__ = [
    "MULTIPLES",
    "default_path",
    "render_history_html",
    "write_history_page",
]

MULTIPLES = ("p95", "throughput", "error_rate")
"""The overall metrics drawn as small multiples under the main chart."""


def _run_rows(history: Trend, runs: Mapping[str, RunSummary]) -> list[dict[str, Any]]:
    shifts = {s.index: s for s in history.shifts}
    rows = []
    for i, point in enumerate(history.points):
        summary = runs.get(point.run_id)
        rows.append({"i": i + 1, "p": point, "run": summary, "shift": shifts.get(i)})
    return rows


def render_history_html(
    history: Trend,
    *,
    runs: Mapping[str, RunSummary] | None = None,
    multiples: Sequence[Trend] = (),
    created_at: str,
) -> str:
    """The history page of ``history``; ``runs`` (by run id) adds each run's git revision and
    verdict to the table, ``multiples`` are drawn small under the main chart."""
    unit = trend_unit(history)
    view = {
        "h": history,
        "unit": unit,
        "chart": Markup(trend_chart(history)) if history.points else None,
        "rows": _run_rows(history, runs or {}),
        "multiples": [
            {"t": t, "chart": Markup(trend_chart(t, compact=True, width=420, height=210))}
            for t in multiples
            if t.points
        ],
        "created_at": created_at,
        "higher_is_better": history.metric in HIGHER_IS_BETTER,
        "direction": _direction(history),
        "tone": {"worse": "regression", "better": "improvement", "changed": "changed"},
        "fmt": lambda value: format_value(value, unit),
        "bare": lambda value: format_value(value, unit, with_unit=False),
    }
    return render_page("history.html.j2", view)


def _direction(history: Trend) -> str:
    """Which way is better, in words (a custom counter's rate has no such way)."""
    if history.unit is None:
        return f"{'higher' if history.metric in HIGHER_IS_BETTER else 'lower'} is better"
    if not history.worse:
        return "no worse direction: a level shift is marked changed"
    return f"{'lower' if history.worse == 'higher' else 'higher'} is better"


def default_path(reports_dir: Path, scenario: str) -> Path:
    """``<reports>/history-<scenario>.html``, the scenario name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario).strip("._") or "scenario"
    return Path(reports_dir) / f"history-{safe}.html"


def write_history_page(
    store: ResultsStore,
    history: Trend,
    path: Path | None = None,
    *,
    created_at: str | None = None,
) -> Path:
    """Render ``history`` with its runs' details and the overall small multiples from
    ``store``, and write it (atomically) to ``path`` or ``default_path``."""
    runs = {r.run_id: r for r in store.list(history.scenario, limit=None, status=None)}
    multiples = []
    for metric in MULTIPLES:
        try:
            points = store.history(history.scenario, OVERALL, metric)
        except SwarmError:  # no overall figures of this scenario: skip the small multiple
            continue
        multiples.append(trend(points, metric=metric, scenario=history.scenario, name=OVERALL))
    stamp = created_at or datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    page = render_history_html(history, runs=runs, multiples=multiples, created_at=stamp)
    target = Path(path) if path is not None else default_path(store.reports_dir, history.scenario)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target
