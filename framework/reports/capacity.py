"""How every report shows a run's capacity: the same words in Markdown, HTML and the console.

The capacity section lists each step's load and throughput beside the fitted curve's, the
USL's parameters with their intervals, the predicted peak and the highest step meeting
the budgets (``framework.verdicts.capacity``). Text here is plain; the renderers escape it.
A bound the data leave open (a peak that may lie anywhere beyond the steps run) shows as
``∞``, never as a number it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.reports.formatting import format_value
from framework.verdicts.capacity import Capacity
from framework.verdicts.results import Figure

__all__ = [
    "CapacityRow",
    "capacity_figure",
    "capacity_headline",
    "capacity_rows",
    "console_lines",
    "fit_lines",
    "load_text",
]

_UNIT_WORDS = {"users": "users", "concurrency": "concurrent requests", "arrivals/s": "arrivals/s"}


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "users" and float(value).is_integer():
        return f"{int(value):,} users"
    return format_value(value, unit)


def capacity_figure(figure: Figure | None, unit: str) -> str:
    """``243 req/s [231, 255]``; ``[231, ∞)`` when the data bound it only from below."""
    if figure is None or figure.value is None:
        return "–"
    shown = _value(figure.value, unit)
    if figure.low is None and figure.high is None:
        return f"{shown} (no CI)"
    low = "0" if figure.low is None else format_value(figure.low, unit, with_unit=False)
    if figure.high is None:
        return f"{shown} [{low}, ∞)"
    return f"{shown} [{low}, {format_value(figure.high, unit, with_unit=False)}]"


def load_text(figure: Figure, unit: str) -> str:
    """A point's load: whole users, or concurrency with its interval."""
    if unit == "users":
        return "–" if figure.value is None else f"{figure.value:,.0f}"
    return capacity_figure(figure, "")


@dataclass(frozen=True)
class CapacityRow:
    """One step as every table shows it (plain text)."""

    step: str
    offered: str
    load: str
    throughput: str
    fitted: str
    budgets: str | None
    passing: bool


def capacity_rows(capacity: Capacity) -> list[CapacityRow]:
    """The steps' rows: offered load, the fitted load, measured and fitted throughput."""
    rows = []
    for p in capacity.points:
        rows.append(
            CapacityRow(
                step=p.step,
                offered="–" if p.offered is None else f"{p.offered:g}",
                load=load_text(p.load, capacity.load_unit),
                throughput=capacity_figure(p.throughput, "req/s"),
                fitted="–" if p.fitted is None else format_value(p.fitted, "req/s"),
                budgets=p.budgets,
                passing=p.step == capacity.highest_passing_step,
            )
        )
    return rows


def fit_lines(capacity: Capacity) -> list[str]:
    """The fit in words: the parameters with intervals, R², or why there is no fit."""
    fit = capacity.fit
    if fit is None or capacity.no_fit_reason is not None:
        return [f"No USL fit: {capacity.no_fit_reason or 'none made'}"]
    level = f"{fit.confidence:.0%}"
    per = "user" if capacity.load_unit == "users" else "concurrent request"
    return [
        f"λ (throughput of one {per}) = {fit.lam:.4g} req/s [{_ci(fit.lam_ci)}]",
        f"σ (contention) = {fit.sigma:.3g} [{_ci(fit.sigma_ci)}]",
        f"κ (coherency) = {fit.kappa:.3g} [{_ci(fit.kappa_ci)}]",
        f"R² = {fit.r2:.3f} over {fit.points} steps; {level} intervals from a parametric bootstrap",
    ]


def _ci(pair: tuple[float, float]) -> str:
    low, high = pair
    return f"{low:.4g}, {'∞' if high == float('inf') else f'{high:.4g}'}"


def capacity_headline(capacity: Capacity) -> list[str]:
    """The section's key sentences: capacity found, predicted peak, the search."""
    lines = []
    unit = _UNIT_WORDS[capacity.load_unit]
    if capacity.verdict is not None:
        lines.append(f"find_capacity: {capacity.verdict} — {capacity.message}")
    elif capacity.highest_passing_step is not None:
        lines.append(f"{capacity.message} ({capacity.highest_passing_reason})")
    else:
        lines.append(f"Highest step meeting the budgets: none — {capacity.highest_passing_reason}")
    if capacity.peak_throughput is not None and capacity.peak_load is not None:
        text = (
            f"Predicted peak: {capacity_figure(capacity.peak_throughput, 'req/s')} at "
            f"{capacity_figure(capacity.peak_load, '')} {unit}"
        )
        if capacity.extrapolated:
            text += " — beyond the highest load run: an extrapolation"
        lines.append(text)
    elif capacity.ceiling is not None:
        lines.append(
            f"No peak within reach: the fitted curve levels off towards "
            f"{format_value(capacity.ceiling, 'req/s')} (no coherency delay measured)"
        )
    elif capacity.no_fit_reason is not None:
        lines.append(f"No USL fit: {capacity.no_fit_reason}")
    elif capacity.fit is not None:
        lines.append(
            "No limit in sight: throughput still rises in proportion to load (no contention "
            "or coherency delay measured); step higher to find it"
        )
    search = capacity.search
    if search:
        stopped = search.get("stopped_at_step")
        lines.append(
            f"Search: {search.get('steps_run', '–')} steps run, "
            + (f"stopped at {stopped}" if stopped else "ran every step")
            + (f": {search['reason']}" if search.get("reason") else "")
        )
    return lines


def console_lines(capacity: Capacity | None) -> list[str]:
    """The console's capacity lines (none for a run without steps): the capacity found
    (when budgets or a search judged the steps), then the peak or why there is none."""
    if capacity is None:
        return []
    lines = []
    if capacity.verdict is not None:
        lines.append(f"  find_capacity {capacity.verdict}: {capacity.message}")
    elif capacity.highest_passing_step is not None:
        lines.append(f"  {capacity.message} (highest step meeting every budget)")
    rest = capacity_headline(capacity)[1:]
    lines += [f"  {line[:1].lower()}{line[1:]}" for line in rest if not line.startswith("Search")]
    return lines
