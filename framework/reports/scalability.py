"""The scalability section of a suite report: throughput, per worker and efficiency per
worker count, the verdict, and a chart of measured against ideal-linear throughput.

``swarm suite`` embeds these fragments in ``suite.md`` and ``suite.html`` for each entry
with ``scale: {workers: [...]}``; the figures come from one
:class:`~framework.verdicts.scalability.Scaling`, so both formats say the same. Neither
fragment has a heading: the suite page places it under its entry's own.
"""

from __future__ import annotations

from markupsafe import Markup

from framework.reports.chart_categories import Interval, IntervalSeries, interval_chart
from framework.reports.formatting import format_figure
from framework.reports.html_templates import template_environment
from framework.reports.markdown import escape_markdown, markdown_table
from framework.verdicts.results import Figure
from framework.verdicts.scalability import GENERATOR_CPU_LIMIT, ScalePoint, Scaling

__all__ = ["scaling_chart", "scaling_html", "scaling_markdown"]

_MEASURED = "#2563eb"
_IDEAL = "#9ca3af"


def _workers(p: ScalePoint) -> str:
    return "1 process" if p.workers < 1 else f"{p.workers} worker" + ("s" * (p.workers != 1))


def _cpu(p: ScalePoint) -> str:
    if p.cpu_max_percent is None:
        return "–"
    return f"{p.cpu_max_percent:.0f} %" + (" ⚠ limit" if p.generator_limited else "")


def _efficiency(p: ScalePoint, first: bool) -> str:
    """``0.97 [0.93, 1.01]``: a ratio, so two decimals at every size."""
    e = p.efficiency
    if e is None or e.value is None:
        return "reference" if first else "–"
    if e.low is None or e.high is None:
        return f"{e.value:.2f} (no CI)"
    return f"{e.value:.2f} [{e.low:.2f}, {e.high:.2f}]"


def scaling_markdown(scaling: Scaling) -> str:
    """A Markdown fragment (no heading): the verdict, then one table row per worker count."""
    flag = "⚠ **generator-limited:** " if scaling.generator_limited else ""
    out = [f"{flag}{escape_markdown(scaling.verdict, 1000)}"]
    if scaling.points:
        rows = [
            [
                str(p.workers),
                escape_markdown(p.run_id, 80),
                format_figure(p.throughput, ""),
                format_figure(p.per_worker, ""),
                _efficiency(p, i == 0),
                _cpu(p),
                escape_markdown(p.note or "", 300),
            ]
            for i, p in enumerate(scaling.points)
        ]
        header = ["Workers", "Run", "Throughput (req/s)", "Per worker (req/s)", "Efficiency"]
        out += ["", *markdown_table([*header, "Busiest worker CPU", "Note"], rows, "rlrrrrl")]
        out += [
            "",
            f"_Intervals at {scaling.confidence:.0%} confidence. Efficiency = X(n) / ((n / n0) · "
            "X(n0)), 1 = linear, its interval from both runs' throughput intervals (the runs "
            f"are independent). A worker at {GENERATOR_CPU_LIMIT:.0f} % CPU or more means the "
            "load generator, not the target, set the pace._",
        ]
    return "\n".join(out) + "\n"


def scaling_chart(scaling: Scaling) -> str | None:
    """SVG: measured throughput with its interval per worker count, beside the ideal-linear
    throughput ``(n / n0) · X(n0)`` (with the reference run's interval scaled alike);
    ``None`` with fewer than two counts or no reference throughput."""
    points = scaling.points
    if len(points) < 2 or points[0].throughput.value is None:
        return None
    base = points[0]

    def scaled(f: Figure, k: float) -> Interval:
        def times(v: float | None) -> float | None:
            return None if v is None else v * k

        return Interval(times(f.value), times(f.low), times(f.high))

    return interval_chart(
        [_workers(p) for p in points],
        [
            IntervalSeries("measured", [scaled(p.throughput, 1.0) for p in points], _MEASURED),
            IntervalSeries(
                "ideal linear",
                [scaled(base.throughput, p.generators / base.generators) for p in points],
                _IDEAL,
            ),
        ],
        x_label="load generators",
        y_label="requests per second",
        title="Throughput against workers, and linear scaling from the first run",
        height=260,
    )


def scaling_html(scaling: Scaling, *, links: dict[str, str] | None = None) -> Markup:
    """An HTML fragment (no heading), escaped: the verdict, the table, and an SVG chart of
    throughput with its interval per worker count beside the ideal-linear line. ``links``
    maps a run id to the (relative) address of its report, linked from the table."""
    links = links or {}
    chart = scaling_chart(scaling)
    rows = [
        {"p": p, "link": links.get(p.run_id), "efficiency": _efficiency(p, i == 0)}
        for i, p in enumerate(scaling.points)
    ]
    html = (
        template_environment()
        .get_template("scalability.html.j2")
        .render(
            scaling=scaling,
            rows=rows,
            chart=Markup(chart) if chart else None,
            cpu_limit=GENERATOR_CPU_LIMIT,
        )
    )
    return Markup(html)
