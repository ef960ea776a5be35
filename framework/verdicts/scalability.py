"""How a run's throughput grows with its load generators: one run per worker count, compared.

A scalability test runs one scenario at 1, 2, 4 … workers (``swarm suite``'s ``scale:
{workers: [...]}``) and asks two questions: does the throughput grow in proportion to the
workers (scaling efficiency ``X(n) / ((n / n0) · X(n0))``, 1 = linear), and when it does
not, was the load generator the limit rather than the target? The first needs each run's
steady-state throughput *with its interval*, since two runs of a few minutes differ by
chance too; the second needs the busiest worker's CPU, which the timeline records every
second (Locust's own sample, ``Second.cpu_percent``).

The efficiency's interval. The runs are independent, so the interval of the ratio
``X(n) / X(n0)`` is built on the log scale from the two runs' own intervals by the MOVER
method (Zou & Donner 2008, "method of variance estimates recovery"): with ``d = ln X(n) −
ln X(n0)`` and each run's log-scale half-widths below and above its value,

    low  = d − sqrt((ln X(n) − ln low(n))² + (ln high(n0) − ln X(n0))²)
    high = d + sqrt((ln high(n) − ln X(n))² + (ln X(n0) − ln low(n0))²)

which is the delta-method interval of a log-ratio (the variances of two independent
estimates add) when each interval is symmetric on the log scale, and keeps the skew of a
block-bootstrap interval when it is not. It uses exactly the intervals ``results.json``
shows (batch means or block bootstrap, both honest for autocorrelated seconds, see
``docs/statistics.md``), so no figure here rests on an iid formula. The efficiency and its
bounds are that ratio's times ``n0 / n``.

Example::

    scaling = scaling_from_runs([(1, Path("reports/run-1w")), (2, Path("reports/run-2w"))])
    print(scaling.verdict)
    # scales linearly to 2 workers (efficiency 0.97, 0.91–1.03)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from framework.errors import SwarmError
from framework.run.folder import read_json_object
from framework.timeline.reader import read_timeline
from framework.verdicts.analysis import AnalysisSettings, PlannedWindow, load_generator_health
from framework.verdicts.builder import ReportOptions, build_results, load_run
from framework.verdicts.results import Figure

__all__ = [
    "GENERATOR_CPU_LIMIT",
    "LINEAR_EFFICIENCY",
    "ScalePoint",
    "Scaling",
    "efficiency",
    "scaling_from_runs",
    "scaling_of",
]

GENERATOR_CPU_LIMIT = 90.0
"""A worker this busy (percent of one core) was the limit: Locust's own warning level."""

LINEAR_EFFICIENCY = 0.9
"""An efficiency whose whole interval lies at or above this scales linearly; one whose
whole interval lies below it does not; one straddling it cannot tell."""

FLAT_LOAD = 0.9
"""A run whose users grew by less than this share of its workers' growth did not scale its
load with them (a closed run's users are split among its workers)."""

EFFICIENCY_METHOD = "MOVER log-ratio of two independent intervals"


@dataclass(frozen=True)
class ScalePoint:
    """One worker count's run: its steady-state throughput, per worker, and the efficiency.

    ``workers`` is the worker count the run was asked for (0, one process without a master,
    counts as one load generator). ``throughput`` is the steady-state requests per second
    with its interval (``Figure(value=None)`` when the run measured nothing: ``note`` says
    why); ``per_worker`` is it over the load generators. ``efficiency`` is ``X(n) / ((n /
    n0) · X(n0))`` against the first (fewest workers) run with its interval (module
    docstring); ``None`` for the first run, or when either run has no throughput.
    ``cpu_max_percent`` is the busiest worker's highest CPU sample in the steady window
    (``None`` when never sampled); ``generator_limited`` says it reached
    ``GENERATOR_CPU_LIMIT``. ``note`` says what else the reader must know about the run
    (it measured nothing, a worker was lost, it was aborted). ``users`` is the closed
    model's user count in the steady window (``None`` for an open-model run): the verdict
    checks that the offered load grew with the workers, without which an efficiency below 1
    says nothing about the target.
    """

    workers: int
    run_id: str
    throughput: Figure
    per_worker: Figure
    efficiency: Figure | None
    cpu_max_percent: float | None
    generator_limited: bool
    run_dir: str = ""
    note: str | None = None
    users: int | None = None

    @property
    def generators(self) -> int:
        """The load generators of the run: its workers, or 1 for a single process."""
        return max(self.workers, 1)


@dataclass(frozen=True)
class Scaling:
    """Every worker count's point, fewest workers first, and the verdict in plain words.

    ``verdict`` reads like "scales linearly to 2 workers (efficiency 0.97, 0.91–1.03); at 4
    workers 0.62 (0.58–0.66): the generator was the limit, worker CPU 98 %".
    ``generator_limited`` is true when any run's busiest worker reached
    ``GENERATOR_CPU_LIMIT``: then the figures describe the load generators, not the target.
    """

    points: tuple[ScalePoint, ...]
    verdict: str
    generator_limited: bool
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data, as ``suite.json`` embeds it under ``scaling``: each
        figure as ``{"value", "low", "high"}`` (``None`` where unknown)."""
        return {
            "verdict": self.verdict,
            "generator_limited": self.generator_limited,
            "confidence": self.confidence,
            "efficiency_method": EFFICIENCY_METHOD,
            "cpu_limit_percent": GENERATOR_CPU_LIMIT,
            "points": [
                {
                    "workers": p.workers,
                    "run_id": p.run_id,
                    "run_dir": p.run_dir,
                    "throughput_rps": _figure_dict(p.throughput),
                    "per_worker_rps": _figure_dict(p.per_worker),
                    "efficiency": _figure_dict(p.efficiency) if p.efficiency else None,
                    "cpu_max_percent": p.cpu_max_percent,
                    "generator_limited": p.generator_limited,
                    "note": p.note,
                    "users": p.users,
                }
                for p in self.points
            ],
        }


def _figure_dict(figure: Figure) -> dict[str, float | None]:
    return {"value": figure.value, "low": figure.low, "high": figure.high}


def efficiency(base: Figure, base_generators: int, other: Figure, generators: int) -> Figure | None:
    """``X(n) / ((n / n0) · X(n0))`` with the MOVER interval of the module docstring.

    ``None`` when either throughput is missing or not positive; a figure without bounds
    when either lacks an interval (or a bound is not positive, so has no logarithm).

    >>> e = efficiency(Figure(100.0, 95.0, 105.0), 1, Figure(190.0, 180.0, 200.0), 2)
    >>> round(e.value, 3), round(e.low, 3), round(e.high, 3)
    (0.95, 0.883, 1.021)
    """
    if not (base.value and other.value and base.value > 0 and other.value > 0):
        return None
    scale = base_generators / generators
    value = other.value / base.value * scale
    bounds = (base.low, base.high, other.low, other.high)
    if any(b is None or b <= 0 for b in bounds):
        return Figure(value, confidence=base.confidence, method=EFFICIENCY_METHOD)
    b_low, b_high, o_low, o_high = (math.log(b) for b in bounds)  # type: ignore[arg-type]
    b_value, o_value = math.log(base.value), math.log(other.value)
    d = o_value - b_value
    below = math.hypot(o_value - o_low, b_high - b_value)
    above = math.hypot(o_high - o_value, b_value - b_low)
    return Figure(
        value,
        low=math.exp(d - below) * scale,
        high=math.exp(d + above) * scale,
        confidence=base.confidence,
        method=EFFICIENCY_METHOD,
    )


def _per_worker(figure: Figure, generators: int) -> Figure:
    def share(v: float | None) -> float | None:
        return None if v is None else v / generators

    return Figure(
        share(figure.value),
        share(figure.low),
        share(figure.high),
        confidence=figure.confidence,
        n=figure.n,
        effective_n=figure.effective_n,
        method=figure.method,
    )


def scaling_from_runs(run_dirs: Sequence[tuple[int, Path]], *, confidence: float = 0.95) -> Scaling:
    """The scaling of one scenario from its runs, one ``(workers, run folder)`` per count.

    Reads each folder's ``results.json`` (the steady-state throughput ``swarm run``
    reported, so the suite and each run's report agree); a folder without one, or whose
    figures are at another confidence level, is analysed afresh from its timeline (with the
    warm-up the report used). The busiest worker's CPU comes from the timeline's seconds in
    that steady window. A missing folder, or a run that measured nothing, gives a point
    without figures and a verdict that says so, never an exception.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    measured = [_measure(workers, Path(path), confidence) for workers, path in run_dirs]
    return scaling_of(measured, confidence=confidence)


def scaling_of(points: Sequence[ScalePoint], *, confidence: float = 0.95) -> Scaling:
    """The efficiencies and verdict of measured points (``efficiency`` is filled in here,
    against the point with the fewest workers): the pure half of :func:`scaling_from_runs`."""
    ordered = sorted(points, key=lambda p: p.workers)
    if ordered:
        base = ordered[0]
        ordered = [replace(base, efficiency=None)] + [
            replace(
                p,
                efficiency=efficiency(base.throughput, base.generators, p.throughput, p.generators),
            )
            for p in ordered[1:]
        ]
    found = tuple(ordered)
    return Scaling(
        points=found,
        verdict=_verdict(found),
        generator_limited=any(p.generator_limited for p in found),
        confidence=confidence,
    )


def _measure(workers: int, run_dir: Path, confidence: float) -> ScalePoint:
    """One run folder's point (efficiency left to :func:`scaling_of`)."""
    generators = max(workers, 1)

    def empty(run_id: str, note: str, cpu: float | None = None) -> ScalePoint:
        return ScalePoint(
            workers,
            run_id,
            Figure(None),
            Figure(None),
            None,
            cpu,
            _limited(cpu),
            run_dir=str(run_dir),
            note=note,
        )

    if not run_dir.is_dir():
        return empty(run_dir.name, f"no run folder at {run_dir}")
    try:
        results = _results(run_dir, confidence)
    except (SwarmError, OSError, ValueError) as exc:
        return empty(run_dir.name, f"cannot read the run: {exc}")
    run = results.get("run") if isinstance(results.get("run"), Mapping) else {}
    run_id = str(run.get("run_id") or run_dir.name)
    window = _window(results)
    cpu, lost = _generator_load(run_dir, window)
    notes = []
    status = run.get("status")
    if status not in (None, "finished"):
        message = run.get("message")
        notes.append(f"the run {status}" + (f" ({message})" if message else ""))
    if lost:
        notes.append("a worker was lost or went silent in the steady window")
    evidence = [str(e) for e in results.get("evidence") or ()]
    figure = _throughput(results)
    if evidence or figure.value is None or figure.value <= 0:
        why = evidence[0] if evidence else "no throughput in the steady window"
        return empty(run_id, "; ".join([f"measured nothing: {why}", *notes]), cpu)
    return ScalePoint(
        workers,
        run_id,
        figure,
        _per_worker(figure, generators),
        None,
        cpu,
        _limited(cpu),
        run_dir=str(run_dir),
        note="; ".join(notes) or None,
        users=_users(results),
    )


def _results(run_dir: Path, confidence: float) -> Mapping[str, Any]:
    """``results.json`` as written, or (none, or at another confidence) recomputed."""
    warmup_s = None
    try:
        found = read_json_object(run_dir / "results.json")
    except FileNotFoundError:
        found = None
    if found is not None:
        settings = found.get("settings") if isinstance(found.get("settings"), Mapping) else {}
        if settings.get("confidence") == confidence:
            return found
        warmup_s = settings.get("warmup_s")
    data = load_run(run_dir)
    settings = AnalysisSettings(confidence=confidence, warmup_s=warmup_s)
    results, _ = build_results(data, ReportOptions(analysis=settings), created_at="")
    return results.to_dict()


def _users(results: Mapping[str, Any]) -> int | None:
    """The steady window's users of a closed-model run (an open one's load is a rate)."""
    baseline = results.get("baseline")
    if results.get("open_model") or not isinstance(baseline, Mapping):
        return None
    users = baseline.get("users")
    return users if isinstance(users, int) and not isinstance(users, bool) else None


def _window(results: Mapping[str, Any]) -> tuple[int, int] | None:
    baseline = results.get("baseline")
    if isinstance(baseline, Mapping):
        start, end = baseline.get("start_s"), baseline.get("end_s")
        if isinstance(start, int | float) and isinstance(end, int | float):
            return int(start), int(end)
    return None


def _throughput(results: Mapping[str, Any]) -> Figure:
    try:
        raw = results["baseline"]["overall"]["throughput_rps"]
    except (KeyError, TypeError):
        return Figure(None)
    if not isinstance(raw, Mapping):
        return Figure(None)

    def number(key: str) -> float | None:
        v = raw.get(key)
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else None

    return Figure(
        number("value"),
        number("low"),
        number("high"),
        confidence=number("confidence") or 0.95,
        n=int(raw.get("n") or 0),
        effective_n=number("effective_n"),
        method=str(raw.get("method") or ""),
    )


def _generator_load(run_dir: Path, window: tuple[int, int] | None) -> tuple[float | None, bool]:
    """The busiest worker's highest CPU sample in ``window``, and whether a worker was lost
    in it (``None``, ``False`` when the timeline cannot say)."""
    if window is None:
        return None, False
    try:
        timeline = read_timeline(run_dir / "timeline.jsonl")
    except (SwarmError, OSError, ValueError):
        return None, False
    health = load_generator_health(timeline, PlannedWindow("steady", *window, None))
    return max(health.cpu_percent, default=None), health.missing_intervals > 0


def _limited(cpu: float | None) -> bool:
    return cpu is not None and cpu >= GENERATOR_CPU_LIMIT


def _workers(n: int) -> str:
    return f"{n} worker" + ("" if n == 1 else "s") if n >= 1 else "1 process"


def _eff(figure: Figure | None, label: str = "") -> str:
    """``0.62 (0.58–0.66)``, or with ``label`` ``efficiency 0.97, 0.91–1.03``."""
    if figure is None or figure.value is None:
        return "–"
    if figure.low is None or figure.high is None:
        return (
            f"{label}{figure.value:.2f}, no interval"
            if label
            else f"{figure.value:.2f} (no interval)"
        )
    bounds = f"{figure.low:.2f}–{figure.high:.2f}"
    return f"{label}{figure.value:.2f}, {bounds}" if label else f"{figure.value:.2f} ({bounds})"


def _rps(figure: Figure) -> str:
    if figure.low is None or figure.high is None:
        return f"{figure.value:.1f} req/s"
    return f"{figure.value:.1f} req/s ({figure.low:.1f}–{figure.high:.1f})"


def _cpu(cpu: float) -> str:
    return f"worker CPU {cpu:.0f} %"


_LEADS = {
    "sublinear": "does not scale linearly: ",
    "unclear": "cannot tell whether it scales linearly: ",
    "none": "cannot tell: ",
}


def _kind(figure: Figure | None) -> str:
    """Linear, sublinear or unclear, read off the efficiency's interval (none without)."""
    if figure is None:
        return "none"
    if figure.low is None or figure.high is None:
        return "unclear"
    if figure.low >= LINEAR_EFFICIENCY:
        return "linear"
    if figure.high < LINEAR_EFFICIENCY:
        return "sublinear"
    return "unclear"


def _verdict(points: Sequence[ScalePoint]) -> str:
    """The plain-words verdict: how far it scales linearly, then every count after that
    with what limited it; never more than the intervals say."""
    if not points:
        return "no runs to compare"
    base, rest = points[0], points[1:]
    if base.throughput.value is None:
        return (
            f"no scaling figures: the reference run at {_workers(base.workers)} "
            f"({base.run_id}): {base.note or 'measured nothing'}"
        )
    if not rest:
        said = (
            f"one worker count only: {_workers(base.workers)}, {_rps(base.throughput)}; "
            "scaling efficiency needs a second worker count"
        )
        return said + _base_caveat(base)
    linear = 0
    while linear < len(rest) and _kind(rest[linear].efficiency) == "linear":
        linear += 1
    parts = []
    if linear:
        last = rest[linear - 1]
        parts.append(
            f"scales linearly to {_workers(last.workers)} ({_eff(last.efficiency, 'efficiency ')})"
        )
    for i, p in enumerate(rest[linear:]):
        lead = _LEADS.get(_kind(p.efficiency), "") if i == 0 and not linear else ""
        parts.append(lead + _point_phrase(p, base))
    return "; ".join(parts) + _base_caveat(base)


def _flat_load(base: ScalePoint, p: ScalePoint) -> bool:
    """Whether ``p``'s users did not grow with its workers against ``base``: then each
    worker got a smaller share of the same load, and the efficiency cannot reach 1
    whatever the target does (a closed run's users are split among its workers)."""
    if base.users is None or base.users <= 0 or p.users is None:
        return False
    return p.users / base.users < FLAT_LOAD * p.generators / base.generators


def _point_phrase(p: ScalePoint, base: ScalePoint) -> str:
    """One worker count after the linear ones: its efficiency and what limited it."""
    at = f"at {_workers(p.workers)}"
    if p.efficiency is None:
        return f"{at} no figures ({p.note or 'measured nothing'})"
    said = f"{at} {_eff(p.efficiency)}"
    kind = _kind(p.efficiency)
    if kind != "linear" and _flat_load(base, p):
        said += (
            f": the users did not grow with the workers ({base.users} at "
            f"{_workers(base.workers)}, {p.users} at {_workers(p.workers)}), and the same "
            "load spread over more workers cannot scale: give each count users in "
            "proportion to its workers"
        )
    elif p.generator_limited and p.cpu_max_percent is not None:
        said += f": the generator was the limit, {_cpu(p.cpu_max_percent)}"
    elif kind == "sublinear":
        said += (
            f": the workers had headroom ({_cpu(p.cpu_max_percent)}), so the limit lay "
            "beyond them (the target, or a host it shares with them)"
            if p.cpu_max_percent is not None
            else ": worker CPU not recorded, so the limit is unknown"
        )
    elif kind == "linear":
        said += ": linear"
    if kind == "unclear" and p.efficiency.low is not None:
        said += f" (the interval spans {LINEAR_EFFICIENCY:g}: run longer to tell)"
    if p.note:
        said += f" [{p.note}]"
    return said


def _base_caveat(base: ScalePoint) -> str:
    """What the reference run adds: its own generator at the limit understates X(n0)."""
    out = ""
    if base.generator_limited and base.cpu_max_percent is not None:
        out += (
            f"; the {_workers(base.workers)} run was generator-limited already "
            f"({_cpu(base.cpu_max_percent)}): its throughput understates the target's, so "
            "efficiencies read high"
        )
    if base.note:
        out += f" [{_workers(base.workers)}: {base.note}]"
    return out
