"""The live capacity search of ``shape: find_capacity``: closed seconds in, a stop out.

A find_capacity run is the stepped plan of ``max_steps`` steps (``framework.plan``); this
judges each step as the run goes and says when to stop it. Pure, like
:mod:`framework.live.abort_guard`: the Locust glue hands it every closed second of the
merged timeline with where the plan was at that second's end (``plan_s``), and stops the
run on the :class:`SearchStop` it returns; nothing here reads a clock or Locust.

How a step is judged:

- only the step's own **plateau** counts: a second belongs to step *k* when its whole span
  of plan time, ``[plan_s − 1, plan_s)``, lies in the phase ``"step k"`` (ramps, and the
  seconds straddling a boundary, count for no step); paused seconds count nowhere;
- its budgets are judged with :func:`framework.live.budget_status.budget_statuses` on the
  step's seconds alone, once at least half of the plateau and ``min_seconds`` of it are in,
  then every ``every_s`` seconds, and once more on the whole plateau when the plan moves
  past it. The search stops on a budget that is ``failing`` — its whole confidence
  interval beyond the limit — never on ``at risk`` or ``pending``, never on a point
  estimate;
- once at least ``MIN_FIT_STEPS`` steps are complete, Gunther's USL is fitted to their
  throughput (:func:`framework.stats.usl.fit_usl`, weighted by each step's interval) each
  time another step completes; the search stops when the fitted peak's whole interval lies
  below the load of the step the plan moves to (more load would only lower throughput).

Without budgets only the fitted peak can stop it. When neither stops it, the run ends with
its plan, having run every step.

    >>> from framework.plan.shapes import stepped
    >>> plan = stepped(start_users=10, step_users=10, step_duration_s=30, steps=3,
    ...                spawn_rate=10)
    >>> [(s.name, s.load, s.start_s, s.end_s) for s in search_steps(plan.phases)]
    [('step 1', 10.0, 1.0, 30.0), ('step 2', 20.0, 31.0, 60.0), ('step 3', 30.0, 61.0, 90.0)]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from framework.live.budget_status import BudgetLimit, BudgetStatus, budget_limits, budget_statuses
from framework.live.statistics import ALL, LiveStatistics
from framework.plan.shapes import Phase
from framework.scenario.budgets import Budgets
from framework.stats.usl import UslFit, fit_usl
from framework.timeline.records import Second

__all__ = [
    "MIN_FIT_STEPS",
    "MIN_STEP_SECONDS",
    "CapacitySearch",
    "SearchStep",
    "SearchStop",
    "StepResult",
    "judged_from_s",
    "search_steps",
]

MIN_STEP_SECONDS = 10
"""Fewest plateau seconds a step's budgets are judged on: the live statistics give no
interval on fewer (ten 1-s intervals, the estimators' ``MIN_BATCHES``), and a stop rests on
an interval. A step whose plateau holds fewer whole seconds is never judged on its budgets
(``swarm validate`` warns)."""
MIN_FIT_STEPS = 4
"""Completed steps before the fitted USL peak may stop the search: three parameters need a
fourth point to leave any spread to judge the fit's noise by."""
LoadUnit = Literal["users", "arrivals/s"]
_STEP = re.compile(r"^step (\d+)$")
_EPS = 1e-6


@dataclass(frozen=True)
class SearchStep:
    """One step of the search: ``name`` as the plan's phase (``"step 3"``), its 1-based
    ``index``, its ``load`` (users, or arrivals/s for an open run) and its plateau
    ``[start_s, end_s)`` in plan seconds."""

    index: int
    name: str
    load: float
    start_s: float
    end_s: float

    @property
    def whole_seconds(self) -> int:
        """Whole timeline seconds that surely fall inside the plateau (a run's start is not
        on a second boundary, so one second of its length straddles an edge)."""
        return max(0, math.ceil(self.end_s - self.start_s - _EPS) - 1)


def search_steps(phases: Sequence[Phase]) -> tuple[SearchStep, ...]:
    """The plateau phases named ``"step N"`` of a (find_capacity or stepped) plan, in order."""
    found = []
    for phase in phases:
        match = _STEP.match(phase.name)
        if match is None or phase.kind != "plateau":
            continue
        load = float(phase.rate) if phase.rate is not None else float(phase.users)
        found.append(SearchStep(int(match[1]), phase.name, load, phase.start_s, phase.end_s))
    return tuple(found)


def judged_from_s(step: SearchStep, *, min_seconds: int = MIN_STEP_SECONDS) -> int:
    """The plateau seconds after which a step's budgets are first judged: at least half of
    the plateau, and at least ``min_seconds``."""
    return max(min_seconds, math.ceil((step.end_s - step.start_s) / 2))


@dataclass(frozen=True)
class StepResult:
    """A completed step: its counted plateau ``seconds``, its throughput (requests/s, with
    its interval once the seconds allow one) and its budgets' last statuses."""

    step: SearchStep
    seconds: int
    throughput: float
    throughput_low: float | None
    throughput_high: float | None
    budgets: tuple[BudgetStatus, ...]

    def to_record(self) -> dict[str, Any]:
        """JSON-ready, for the log and run.json."""
        return {
            "step": self.step.name,
            "load": self.step.load,
            "seconds": self.seconds,
            "throughput": self.throughput,
            "throughput_low": self.throughput_low,
            "throughput_high": self.throughput_high,
            "budgets": {f"{b.limit.scope} {b.limit.metric}": b.status for b in self.budgets},
        }


@dataclass(frozen=True)
class SearchStop:
    """Why the search stopped the run: ``kind`` ``"budget"`` (a budget failed with
    confidence in ``step``) or ``"peak"`` (the fitted USL peak lies below the load of
    ``step``, the step the plan was moving to, which therefore never ran);
    ``reason`` for a person (``run.json``'s ``capacity_search.reason``); ``figures`` JSON-ready;
    ``second`` the timeline second (unix s) it stopped on."""

    step: SearchStep
    kind: Literal["budget", "peak"]
    reason: str
    figures: dict[str, Any]
    second: int


@dataclass
class _Current:
    step: SearchStep
    statistics: LiveStatistics
    statuses: tuple[BudgetStatus, ...] = ()
    seconds: int = 0


@dataclass
class CapacitySearch:
    """The search of one run (a new run, a web-UI restart, needs a new one).

    Feed it every closed second in order with ``add_second``; it returns the
    :class:`SearchStop` on the second the search ends the run and ``None`` before and
    after (``stopped`` keeps it). ``fit`` is the USL fit (a parameter so tests can count
    or refuse fits).
    """

    phases: Sequence[Phase]
    budgets: Budgets | None = None
    load_unit: LoadUnit = "users"
    confidence: float = 0.95
    min_seconds: int = MIN_STEP_SECONDS
    every_s: int = 5
    fit: Callable[..., UslFit] = fit_usl
    steps: tuple[SearchStep, ...] = field(init=False)
    limits: list[BudgetLimit] = field(init=False)
    completed: list[StepResult] = field(init=False, default_factory=list)
    stopped: SearchStop | None = field(init=False, default=None)
    fitted: UslFit | None = field(init=False, default=None)
    reached: SearchStep | None = field(init=False, default=None)
    _current: _Current | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.steps = search_steps(self.phases)
        self.limits = budget_limits(self.budgets)
        self.every_s = max(1, self.every_s)

    def __repr__(self) -> str:
        current = self.current.name if self.current is not None else None
        return (
            f"CapacitySearch(steps={len(self.steps)}, current={current!r}, "
            f"completed={len(self.completed)}, stopped={self.stopped is not None})"
        )

    @property
    def current(self) -> SearchStep | None:
        """The step being judged: the one whose plateau the run is in, ``None`` outside."""
        return None if self._current is None else self._current.step

    @property
    def steps_run(self) -> int:
        """Steps whose plateau the run reached (the one being judged included)."""
        return 0 if self.reached is None else self.reached.index

    def add_second(
        self, second: Second, *, plan_s: float, counted: bool = True
    ) -> SearchStop | None:
        """Take one closed second whose end was ``plan_s`` seconds into the plan; the stop
        if the search ends the run on it."""
        if self.stopped is not None or not counted:
            return None
        start_s = plan_s - 1
        current = self._current
        if current is not None and plan_s > current.step.end_s + _EPS:
            stop = self._complete(current, second, moving_to=self._step_after(current.step))
            if stop is not None:
                return self._stop(stop)
        step = next(
            (s for s in self.steps if s.start_s - _EPS <= start_s and plan_s <= s.end_s + _EPS),
            None,
        )
        if step is None:
            return None
        if self._current is None or self._current.step != step:
            self._current = _Current(step, LiveStatistics(recent_s=1))
            self.reached = step
        current = self._current
        current.statistics.add_second(second)
        current.seconds += 1
        first = judged_from_s(step, min_seconds=self.min_seconds)
        if current.seconds >= first and (current.seconds - first) % self.every_s == 0:
            stop = self._judge(current, second)
            if stop is not None:
                return self._stop(stop)
        return None

    def outcome(self, ended: str | None = None) -> str:
        """Why the search ended, for a person: its stop's reason; that it ran every step;
        while the run goes (``ended`` ``None``), which step it judges; or, for a run that
        ended before the last step otherwise (Ctrl-C, an abort guard, Stop in the web UI),
        that it had no answer."""
        if self.stopped is not None:
            return self.stopped.reason
        steps = len(self.steps)
        where = "before step 1" if self.reached is None else f"in {self.reached.name}"
        if ended is None:
            return f"searching: {where} of at most {steps}"
        if self.steps_run < steps:
            return f"the run ended {where} of {steps}, before the search had its answer"
        if self.limits:
            return (
                f"ran all {steps} steps: no step failed a budget with confidence and the "
                f"fitted peak was not passed"
            )
        return f"ran all {steps} steps: no budgets, and the fitted peak was not passed"

    def record(self, stopped_at: str | None, *, ended: str | None = "finished") -> dict[str, Any]:
        """``run.json``'s ``capacity_search``: ``steps_run``, ``stopped_at_step`` (``None``
        unless the search stopped the run), ``reason`` (see :meth:`outcome`; ``ended`` is
        the run's final state, ``None`` while it goes) and
        ``stopped_at`` (the ISO UTC time given, ``None`` unless it stopped the run)."""
        stop = self.stopped
        return {
            "steps_run": self.steps_run,
            "stopped_at_step": None if stop is None else stop.step.name,
            "reason": self.outcome(ended),
            "stopped_at": None if stop is None else stopped_at,
        }

    # -- judging -----------------------------------------------------------------------------

    def _stop(self, stop: SearchStop) -> SearchStop:
        self.stopped = stop
        return stop

    def _step_after(self, step: SearchStep) -> SearchStep | None:
        return next((s for s in self.steps if s.index == step.index + 1), None)

    def _judge(self, current: _Current, second: Second) -> SearchStop | None:
        if not self.limits:
            return None
        current.statuses = tuple(
            budget_statuses(
                self.limits,
                current.statistics,
                confidence=self.confidence,
                min_seconds=self.min_seconds,
            )
        )
        failing = next((s for s in current.statuses if s.status == "failing"), None)
        if failing is None:
            return None
        step = current.step
        side = "above" if failing.limit.kind == "upper" else "below"
        reason = (
            f"{step.name} ({_load(step.load, self.load_unit)}) failed a budget with confidence "
            f"after {current.seconds} s of its plateau, the whole {self.confidence:.0%} "
            f"interval {side} the limit: {failing.text}"
        )
        figures = {
            "metric": failing.limit.metric,
            "scope": failing.limit.scope,
            "limit": failing.limit.limit,
            "value": failing.value,
            "low": failing.low,
            "high": failing.high,
            "seconds": current.seconds,
            "load": step.load,
            "load_unit": self.load_unit,
        }
        return SearchStop(step, "budget", reason, figures, second.t)

    def _complete(
        self, current: _Current, second: Second, *, moving_to: SearchStep | None
    ) -> SearchStop | None:
        """The plan has moved past ``current``'s plateau: judge it once more on all of it,
        keep its throughput, and see whether the fitted peak lies below the next load."""
        self._current = None
        stop = None
        if current.seconds >= self.min_seconds:
            stop = self._judge(current, second)
        self.completed.append(self._result(current))
        if stop is not None:
            return stop
        if moving_to is None or len(self.completed) < MIN_FIT_STEPS:
            return None
        return self._peak_stop(moving_to, second)

    def _result(self, current: _Current) -> StepResult:
        snapshot = current.statistics.snapshot(ALL)
        low = high = None
        value = snapshot.rps
        estimate = current.statistics.estimates(
            ALL, ("throughput",), confidence=self.confidence, min_seconds=self.min_seconds
        ).get("throughput")
        if estimate is not None and all(
            math.isfinite(v) for v in (estimate.value, estimate.low, estimate.high)
        ):
            value, low, high = estimate.value, estimate.low, estimate.high
        return StepResult(current.step, current.seconds, value, low, high, current.statuses)

    def _peak_stop(self, moving_to: SearchStep, second: Second) -> SearchStop | None:
        points = [r for r in self.completed if r.throughput > 0]
        if len(points) < MIN_FIT_STEPS:
            return None
        intervals = [(r.throughput_low, r.throughput_high) for r in points]
        given = None
        if all(low is not None and high is not None for low, high in intervals):
            given = [(float(low), float(high)) for low, high in intervals]  # type: ignore[arg-type]
        try:
            fitted = self.fit(
                [r.step.load for r in points],
                [r.throughput for r in points],
                given,
                confidence=self.confidence,
            )
        except ValueError:
            return None  # no fit rests on these steps: nothing to stop on
        self.fitted = fitted
        peak, interval = fitted.peak_load, fitted.peak_load_ci
        if peak is None or interval is None or not interval[1] < moving_to.load:
            return None
        unit = self.load_unit
        reason = (
            f"the fitted USL peak, {_load(peak, unit)} ({interval[0]:.4g}–{interval[1]:.4g}), "
            f"lies below {moving_to.name}'s {_load(moving_to.load, unit)} with "
            f"{self.confidence:.0%} confidence: more load would only lower throughput"
        )
        figures = {
            "peak_load": peak,
            "peak_load_low": interval[0],
            "peak_load_high": interval[1],
            "peak_throughput": fitted.peak_throughput,
            "load": moving_to.load,
            "load_unit": unit,
            "steps_fitted": fitted.points,
        }
        return SearchStop(moving_to, "peak", reason, figures, second.t)


def _load(value: float, unit: LoadUnit) -> str:
    if unit == "users":
        return f"{value:.4g} users"
    return f"{value:.4g} arrivals/s"
