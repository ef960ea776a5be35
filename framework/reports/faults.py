"""The scheduled faults of every report, worded once: when each was in force, what the
service did meanwhile, the baseline before it and how long it took to recover.

The Markdown, HTML, terminal and JUnit renderers lay out what this module words, so a
recovery reads ``2.0 s [1.0, 2.0]`` (or ``not recovered (> 16 s)``, ``not measured``)
everywhere; nothing here escapes (each format escapes its own way). A run without faults
gets nothing from here.

    >>> recovery_text(FaultResult("f", "mock", 0.0, 1.0, "ended", None, None, None, False,
    ...                           None, None, "", measured=False))
    'not measured'
"""

from __future__ import annotations

from framework.reports.charts import format_elapsed
from framework.reports.formatting import format_figure
from framework.verdicts.faults import FaultResult
from framework.verdicts.results import Figure, Results

__all__ = [
    "FAULTS_NOTE",
    "console_lines",
    "figure_text",
    "in_force_text",
    "recovery_text",
    "sla_text",
]

FAULTS_NOTE = (
    "Recovery: from the fault's end until the error rate and p95 of all requests, pooled "
    "over sliding 3 s windows, are back within the pre-fault baseline (at most its "
    "interval's high end, or what its own healthy 3 s windows reached). At the timeline's "
    "1 s resolution it is an interval: from the latest second still outside to the latest "
    "the data cannot exclude. The SLA passes when all of the interval is within it and "
    "fails when all of it is beyond."
)
"""How the recovery time is measured, said the same in every format."""


def figure_text(figure: Figure | None, unit: str = "ms") -> str:
    """A fault figure as every report shows it (``–`` for none)."""
    return "–" if figure is None else format_figure(figure, unit)


def recovery_text(fault: FaultResult) -> str:
    """``2.0 s [1.0, 2.0]``; ``not recovered (> 16 s)``; ``not measured``."""
    found = fault.recovery_s
    if fault.recovered and found is not None and found.value is not None:
        if found.low is None or found.high is None:
            return f"{found.value:.1f} s"
        return f"{found.value:.1f} s [{found.low:.1f}, {found.high:.1f}]"
    if not fault.measured:
        return "not measured"
    after = fault.not_recovered_after_s
    return "not recovered" + (f" (> {after:.0f} s)" if after is not None else "")


def sla_text(fault: FaultResult) -> str:
    """``≤ 2 s``, or ``–`` without a recovery SLA."""
    return "–" if fault.recovery_sla_s is None else f"≤ {fault.recovery_sla_s:g} s"


def in_force_text(fault: FaultResult, origin: float | None) -> str:
    """``0:30–0:50 (20 s)`` since the run's start; ``never`` when it never took effect."""
    if fault.start_s is None or fault.end_s is None:
        return "never"
    span = f"{fault.end_s - fault.start_s:.0f} s"
    if origin is None:
        return span
    return (
        f"{format_elapsed(fault.start_s - origin)}–{format_elapsed(fault.end_s - origin)} ({span})"
    )


def console_lines(results: Results) -> list[str]:
    """One line per fault for the terminal summary (none without faults)."""
    lines = []
    for fault in results.faults:
        during = fault.during
        figures = ""
        if during is not None:
            figures = (
                f"errors {figure_text(during.error_rate, '%')}, p95 {figure_text(during.p95_ms)}"
                " during; "
            )
        verdict = f" → SLA {sla_text(fault)}: {fault.verdict}" if fault.verdict else ""
        lines.append(
            f"  fault {fault.name[:28]}: {figures}recovery {recovery_text(fault)}{verdict}"
        )
        if not fault.recovered:
            lines.append(f"    {fault.message}")
    return lines
