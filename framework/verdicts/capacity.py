"""Capacity: where a stepped, staged or find_capacity run saturates, with intervals.

Each step's plateau (``Results.steps``) gives one point, its load and its throughput with
the batch-means interval; the Universal Scalability Law (:mod:`framework.stats.usl`) fitted
through them predicts the peak throughput and the load that reaches it, each with an
interval; the budgets judged on every step give the highest step that meets them all with
confidence. A ``find_capacity`` run is judged on that step instead of its steady state.

The load of a point:

- closed model: the step's **users** (the USL's N: clients each with one request in turn);
- open model: the step's **concurrency** ``N = X·R`` by Little's law (throughput × mean
  response time), not its arrival rate. While the target keeps up, throughput *equals* the
  arrival rate by construction, so throughput against arrival rate is the identity line up
  to saturation and says nothing about contention; the USL models throughput against the
  requests in the system at once, which Little's law measures. Each point keeps the step's
  arrival rate (``offered``), and the highest passing step is named by it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from framework.plan.record import PlanRecord
from framework.scenario.budgets import Budgets
from framework.stats.usl import UslFit, fit_usl
from framework.verdicts.results import Figure, Window
from framework.verdicts.rules import budget_verdicts

__all__ = [
    "CAPACITY_SHAPES",
    "MIN_FIT_STEPS",
    "MIN_R2",
    "Capacity",
    "CapacityPoint",
    "LoadUnit",
    "capacity",
]

LoadUnit = Literal["users", "arrivals/s", "concurrency"]
CAPACITY_SHAPES = ("stepped", "stages", "find_capacity")
MIN_FIT_STEPS = 4
"""Fewest steps fitted: the USL has three parameters, and a fourth step is the least that
leaves any spread to check the curve (and the noise) against."""
MIN_R2 = 0.5
"""Below this share of the throughput's variation across steps explained, the curve is no
model of the data (throughput moved for reasons other than load) and predicts nothing."""


@dataclass(frozen=True)
class CapacityPoint:
    """One step: its load (``Capacity.load_unit``), measured throughput (requests/s) with
    its interval, the curve's throughput there, and its budgets.

    ``offered`` is what the plan asked for (users, or arrivals/s of an open step);
    ``budgets`` is ``"pass"`` when every budget passed with confidence, ``"fail"`` when
    one failed, ``"inconclusive"`` otherwise, ``None`` without budgets.
    """

    step: str
    load: Figure
    throughput: Figure
    offered: float | None = None
    fitted: float | None = None
    budgets: Literal["pass", "fail", "inconclusive"] | None = None
    budget_failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capacity:
    """The capacity of a stepped run: the points, the USL fit (or why none), the predicted
    peak with intervals, the highest step meeting every budget, and for ``find_capacity``
    the search (``run.json``'s ``capacity_search``) and its verdict.

    ``peak_load``/``peak_throughput`` are ``None`` when there is no fit or the fitted curve
    has no peak (it levels off: ``ceiling`` is then the throughput it approaches); a
    ``high`` of ``None`` in them means unbounded by the data. ``extrapolated`` says the peak
    lies beyond the highest load measured. ``verdict`` is set for ``find_capacity`` runs
    only (``"pass"``, ``"fail"`` or ``"inconclusive"``) and ``message`` says why.
    """

    shape: str
    load_unit: LoadUnit
    points: tuple[CapacityPoint, ...]
    fit: UslFit | None = None
    no_fit_reason: str | None = None
    peak_load: Figure | None = None
    peak_throughput: Figure | None = None
    ceiling: float | None = None
    extrapolated: bool = False
    highest_passing_step: str | None = None
    highest_passing_reason: str = ""
    capacity_throughput: Figure | None = None
    capacity_load: float | None = None
    search: dict[str, Any] | None = None
    verdict: Literal["pass", "fail", "inconclusive"] | None = None
    message: str = ""

    @property
    def offered_unit(self) -> str:
        """The unit of ``CapacityPoint.offered``: users, or arrivals/s for an open run."""
        return "users" if self.load_unit == "users" else "arrivals/s"

    def summary(self) -> str:
        """One line for the console and the reports' headline of the section."""
        parts = []
        if self.highest_passing_step is not None:
            parts.append(self.message or self.highest_passing_reason)
        if self.peak_throughput is not None and self.peak_load is not None:
            parts.append(
                f"predicted peak {_figure(self.peak_throughput, ' req/s')} at "
                f"{_figure(self.peak_load, ' ' + self.load_unit)}"
                + (" (beyond the steps run: an extrapolation)" if self.extrapolated else "")
            )
        elif self.fit is not None and self.ceiling is not None:
            parts.append(f"no peak: throughput levels off towards {self.ceiling:.4g} req/s")
        elif self.no_fit_reason:
            parts.append(f"no USL fit: {self.no_fit_reason}")
        elif self.fit is not None:
            parts.append("no limit in sight: throughput still rises in proportion to load")
        if self.highest_passing_step is None and self.message:
            parts.insert(0, self.message)
        return "; ".join(parts)


def capacity(
    steps: Sequence[Window],
    budgets: Budgets | None,
    run: Mapping[str, Any],
    confidence: float = 0.95,
) -> Capacity | None:
    """The capacity of a run from its step windows (``None`` for a run whose plan is not
    stepped, stages or find_capacity). ``run`` is ``run.json`` as read (its ``plan`` and,
    for find_capacity, ``capacity_search``); ``budgets`` are judged on every step.
    """
    plan = PlanRecord.from_record(run.get("plan") if isinstance(run, Mapping) else None)
    if plan.shape not in CAPACITY_SHAPES:
        return None
    search = run.get("capacity_search")
    search = dict(search) if isinstance(search, Mapping) else None
    rates = {p.name: p.rate for p in plan.phases if p.rate is not None}
    is_open = plan.model == "open" or (plan.model is None and bool(rates))
    unit: LoadUnit = "concurrency" if is_open else "users"
    points = tuple(_point(w, budgets, rates.get(w.name), is_open) for w in steps)
    found = Capacity(shape=plan.shape or "", load_unit=unit, points=points, search=search)
    if plan.model == "mixed" or len(plan.groups) > 1:
        found = replace(
            found,
            no_fit_reason="the run has several load groups: no one load to fit throughput against",
        )
    else:
        found = _fitted(found, confidence)
    found = _highest_passing(found, budgets)
    if plan.shape == "find_capacity":
        found = _search_verdict(found, budgets)
    return found


def _point(
    window: Window, budgets: Budgets | None, rate: float | None, is_open: bool
) -> CapacityPoint:
    throughput = window.overall.throughput_rps
    if is_open:
        load = _concurrency(throughput, window.overall.mean_ms)
        offered = rate
    else:
        users = window.users
        load = Figure(value=float(users)) if users is not None else Figure(value=None)
        offered = float(users) if users is not None else None
    outcome, failures = None, ()
    if budgets is not None and (budgets.overall or budgets.requests):
        verdicts = budget_verdicts(window, budgets)
        failures = tuple(v.message for v in verdicts if v.verdict == "fail")
        if failures:
            outcome = "fail"
        elif all(v.verdict == "pass" for v in verdicts):
            outcome = "pass"
        else:
            outcome = "inconclusive"
    return CapacityPoint(window.name, load, throughput, offered, None, outcome, failures)


def _concurrency(throughput: Figure, mean_ms: Figure) -> Figure:
    """Little's law ``N = X·R`` with R in seconds; its interval from the two relative
    half-widths in quadrature (treating the two estimates as independent)."""
    x, r = throughput.value, mean_ms.value
    if x is None or r is None or x <= 0 or r <= 0:
        return Figure(value=None)
    value = x * r / 1000
    widths = [f.relative_half_width for f in (throughput, mean_ms)]
    if any(w is None for w in widths):
        return Figure(value=value, confidence=throughput.confidence, method="little")
    half = value * math.hypot(*(w or 0.0 for w in widths))
    return Figure(
        value=value,
        low=max(value - half, 0.0),
        high=value + half,
        confidence=throughput.confidence,
        method="little",
    )


def _fitted(found: Capacity, confidence: float) -> Capacity:
    """The USL fitted through the points, or the reason no fit can rest on them."""
    points = found.points
    usable = [p for p in points if _positive(p.load.value) and _positive(p.throughput.value)]
    used = {id(p) for p in usable}
    if len(points) < MIN_FIT_STEPS:
        return replace(
            found,
            no_fit_reason=f"{len(points)} step{'s' if len(points) != 1 else ''} analysed; "
            f"a fit needs at least {MIN_FIT_STEPS} (3 parameters and the noise)",
        )
    if len(usable) < MIN_FIT_STEPS:
        empty = ", ".join(p.step for p in points if id(p) not in used)
        return replace(
            found,
            no_fit_reason=f"only {len(usable)} steps measured a throughput (none in {empty}); "
            f"a fit needs at least {MIN_FIT_STEPS}",
        )
    rise = _no_rise(usable)
    if rise:
        return replace(found, no_fit_reason=rise)
    intervals = [_interval(p.throughput) for p in usable]
    loads = [_interval(p.load) for p in usable]
    try:
        fit = fit_usl(
            [p.load.value or 0.0 for p in usable],
            [p.throughput.value or 0.0 for p in usable],
            intervals if all(i is not None for i in intervals) else None,  # type: ignore[arg-type]
            confidence=confidence,
            # an open run's concurrency is measured: its error weighs through the slope
            load_ci=loads if all(i is not None for i in loads) else None,  # type: ignore[arg-type]
        )
    except ValueError as exc:
        return replace(found, no_fit_reason=str(exc))
    fitted_points = tuple(
        replace(p, fitted=fit.throughput_at(p.load.value or 0.0)) if id(p) in used else p
        for p in points
    )
    if fit.r2 < MIN_R2:
        return replace(
            found,
            points=fitted_points,
            fit=fit,
            no_fit_reason=f"the fitted curve explains only {max(fit.r2, 0.0):.0%} of how "
            f"throughput varies across the steps (at least {MIN_R2:.0%} needed): throughput "
            "moved for reasons other than load; no prediction made",
        )
    peak_load = peak_x = None
    if fit.peak_load is not None and fit.peak_load_ci is not None:
        peak_load = _ci_figure(fit.peak_load, fit.peak_load_ci, confidence)
    if fit.peak_throughput is not None and fit.peak_throughput_ci is not None:
        peak_x = _ci_figure(fit.peak_throughput, fit.peak_throughput_ci, confidence)
    extrapolated = fit.peak_load is not None and fit.peak_load > fit.max_load
    return replace(
        found,
        points=fitted_points,
        fit=fit,
        peak_load=peak_load,
        peak_throughput=peak_x,
        ceiling=fit.ceiling if fit.peak_load is None else None,
        extrapolated=extrapolated,
    )


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def _interval(figure: Figure) -> tuple[float, float] | None:
    if figure.low is None or figure.high is None:
        return None
    return figure.low, figure.high


def _ci_figure(value: float, ci: tuple[float, float], confidence: float) -> Figure:
    low, high = ci
    return Figure(
        value=value,
        low=low if math.isfinite(low) else None,
        high=high if math.isfinite(high) else None,
        confidence=confidence,
        method="usl bootstrap",
    )


def _no_rise(points: Sequence[CapacityPoint]) -> str | None:
    """Why the points show no rise (``None`` when they do): no step's throughput is
    measurably above the lowest load's — the target was saturated from the first step,
    and no curve can tell its slope from its ceiling."""
    first = min(points, key=lambda p: p.load.value or 0.0)
    top = first.throughput.high if first.throughput.high is not None else first.throughput.value
    if any((p.throughput.low or p.throughput.value or 0.0) > (top or 0.0) for p in points):
        return None
    return (
        f"throughput did not rise measurably above {first.step}'s "
        f"{_figure(first.throughput, ' req/s')} at any higher load: the target was saturated "
        "from the first step (start lower, or step in smaller increments)"
    )


def _highest_passing(found: Capacity, budgets: Budgets | None) -> Capacity:
    """The step of the highest load whose every budget passed with confidence."""
    if budgets is None or not (budgets.overall or budgets.requests):
        return replace(
            found,
            highest_passing_reason="no budgets: no step can be judged (add budgets to the "
            "scenario to find the highest step meeting them)",
        )
    passing = [p for p in found.points if p.budgets == "pass"]
    if not passing:
        inconclusive = sum(1 for p in found.points if p.budgets == "inconclusive")
        why = "no step met every budget with confidence"
        if inconclusive:
            why += f" ({inconclusive} inconclusive: run each step longer)"
        return replace(found, highest_passing_reason=why)
    best = max(passing, key=lambda p: (p.offered or 0.0, found.points.index(p)))
    load = best.offered
    unit = found.offered_unit
    text = f"capacity {_number(load)} {unit}" if load is not None else f"capacity {best.step}"
    text += f", {_figure(best.throughput, ' req/s')}"
    return replace(
        found,
        highest_passing_step=best.step,
        highest_passing_reason=f"{best.step} is the highest step meeting every budget with "
        "confidence",
        capacity_throughput=best.throughput,
        capacity_load=load,
        message=text,
    )


def _search_verdict(found: Capacity, budgets: Budgets | None) -> Capacity:
    """Contracts §4: a find_capacity run passes when a step met the budgets with confidence
    (the capacity found), fails when its first step already failed them; otherwise its
    verdict is inconclusive. Without budgets the fitted peak is the capacity."""
    search = found.search or {}
    stopped = search.get("reason")
    suffix = f" (search stopped: {stopped})" if isinstance(stopped, str) and stopped else ""
    if budgets is None or not (budgets.overall or budgets.requests):
        if found.peak_throughput is not None and found.peak_load is not None:
            message = (
                f"capacity: predicted peak {_figure(found.peak_throughput, ' req/s')} at "
                f"{_figure(found.peak_load, ' ' + found.load_unit)}, no budgets to judge steps"
            )
            return replace(found, verdict="pass", message=message + suffix)
        return replace(
            found,
            verdict="inconclusive",
            message="capacity not found: no budgets to judge the steps and no fitted peak"
            + (f" ({found.no_fit_reason})" if found.no_fit_reason else "")
            + suffix,
        )
    if found.highest_passing_step is not None:
        return replace(found, verdict="pass", message=found.message + suffix)
    if found.points and found.points[0].budgets == "fail":
        first = found.points[0]
        why = first.budget_failures[0] if first.budget_failures else "a budget failed"
        return replace(
            found,
            verdict="fail",
            message=f"capacity below the first step: {first.step} already fails ({why})" + suffix,
        )
    return replace(
        found,
        verdict="inconclusive",
        message="capacity not found: no step met every budget with confidence"
        + (
            ", none failed them either"
            if not any(p.budgets == "fail" for p in found.points)
            else ""
        )
        + suffix,
    )


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if value == int(value) else f"{value:.4g}"


def _figure(figure: Figure, unit: str = "") -> str:
    """``243 req/s (231–255)``: the value with its interval, ``–`` for an unbounded end."""
    if figure.value is None:
        return "-"
    text = f"{figure.value:.4g}{unit}"
    if figure.low is not None or figure.high is not None:
        low = f"{figure.low:.4g}" if figure.low is not None else "–"
        high = f"{figure.high:.4g}" if figure.high is not None else "∞"
        text += f" ({low}–{high})"
    return text
