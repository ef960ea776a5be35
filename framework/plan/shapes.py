"""Load shapes: pure functions from elapsed seconds to how many users Locust should run.

A shape answers one question, "what should Locust be doing ``elapsed_s`` seconds into the
run?", with a :class:`Stage` (target users and spawn rate) or ``None`` once the run is over.
Keeping that a pure function of time means every shape is tested on literals, charted
(:mod:`framework.plan.chart`) and reported without Locust; the one class that reads the clock is
:func:`framework.locust_glue.shape.shape_class`.

Each plan also lists its :class:`Phase` s: named, contiguous parts of the timeline that the
statistics use to drop warm-up and to give each plateau its own baseline. Whenever the target
changes, the first ``ceil(|Δusers| / spawn_rate)`` seconds of the new part are split off as a
``"ramp"`` phase, because latencies measured while users are still starting (or stopping)
describe the transition, not the level::

    >>> plan = stepped(start_users=10, step_users=10, step_duration_s=60, steps=2, spawn_rate=5)
    >>> [(p.name, p.start_s, p.end_s, p.users) for p in plan.phases]
    [('ramp-up', 0.0, 2.0, 10), ('step 1', 2.0, 60.0, 10), ('ramp to step 2', 60.0, 62.0, 20), \
('step 2', 62.0, 120.0, 20)]
    >>> plan.stage_at(61.0)
    Stage(users=20, spawn_rate=5.0)
    >>> plan.stage_at(120.0) is None
    True

Factories take keyword-only arguments and reject bad values up front with a ``ValueError``
that names the factory, the argument and the value, like locust's ``constant_throughput``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "PHASE_KINDS",
    "LoadPlan",
    "Phase",
    "Stage",
    "constant",
    "phase_containing",
    "spike",
    "stages",
    "stepped",
    "wave",
]

PHASE_KINDS = ("ramp", "plateau", "spike", "wave")
_BOUNDARY_DIGITS = 9


@dataclass(frozen=True)
class Stage:
    """What Locust should be doing now: the ``(user_count, spawn_rate)`` a shape's tick returns.

    ``spawn_rate`` is in users started (or stopped) per second; Locust uses the same rate when
    the target is below the current count.
    """

    users: int
    spawn_rate: float


@dataclass(frozen=True)
class Phase:
    """A named, contiguous part of a plan, ``[start_s, end_s)``, for reports and warm-up exclusion.

    ``users`` is the target during the phase (for a ``"wave"`` phase, the crest it swings up to);
    ``kind`` is one of ``"ramp"``, ``"plateau"``, ``"spike"``, ``"wave"``. ``rate`` is set on
    phases of open plans (:mod:`framework.plan.rates`), whose ``users`` is 0: the arrival rate
    of the level, by the same rule (a ramp: the level it ramps to; a wave: the crest). A phase
    of a schedule mixing both models has both.
    """

    name: str
    start_s: float
    end_s: float
    users: int
    kind: str
    rate: float | None = None

    @property
    def duration_s(self) -> float:
        """Length of the phase in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class LoadPlan:
    """A whole load test over time: a name, a duration, its phases, and the users at each second.

    ``level_at`` holds the shape's own rule and is only consulted for ``0 <= t < duration_s``;
    :meth:`stage_at` owns the end-of-run and bad-input handling, so every shape ends the same way.
    """

    name: str
    duration_s: float
    phases: tuple[Phase, ...]
    level_at: Callable[[float], Stage] = field(repr=False)

    def stage_at(self, elapsed_s: float) -> Stage | None:
        """The stage to run ``elapsed_s`` seconds into the run, or ``None`` once it is over.

        ``None`` is returned exactly from ``elapsed_s >= duration_s``, which Locust reads as
        "stop the test". A negative or NaN time is a caller's bug and raises ``ValueError``.
        """
        if not elapsed_s >= 0:  # also catches NaN
            raise ValueError(f"{self.name}: elapsed_s must be >= 0, got {elapsed_s!r}")
        if elapsed_s >= self.duration_s:
            return None
        return self.level_at(elapsed_s)

    def users_at(self, elapsed_s: float) -> int:
        """Target users at ``elapsed_s``; 0 once the plan has ended (handy for charts)."""
        stage = self.stage_at(elapsed_s)
        return 0 if stage is None else stage.users

    @property
    def peak_users(self) -> int:
        """The highest target anywhere in the plan."""
        return max((p.users for p in self.phases), default=0)

    def phase_at(self, elapsed_s: float) -> Phase | None:
        """The phase containing ``elapsed_s``, or ``None`` outside ``[0, duration_s)``."""
        return phase_containing(self.phases, elapsed_s)


def phase_containing(phases: Sequence[Phase], elapsed_s: float) -> Phase | None:
    """The phase of ``phases`` whose ``[start_s, end_s)`` holds ``elapsed_s``, or ``None``:
    one rule for every kind of plan (users, arrival rates, a schedule of groups)."""
    for phase in phases:
        if phase.start_s <= elapsed_s < phase.end_s:
            return phase
    return None


# --- the rules behind level_at: small frozen callables, so plans compare and print by value ---


@dataclass(frozen=True)
class _Piecewise:
    """Targets held constant between breakpoints: segment ``i`` covers ``[ends[i-1], ends[i])``."""

    ends_s: tuple[float, ...]
    levels: tuple[Stage, ...]

    def __call__(self, elapsed_s: float) -> Stage:
        index = min(bisect_right(self.ends_s, elapsed_s), len(self.levels) - 1)
        return self.levels[index]


@dataclass(frozen=True)
class _Sinusoid:
    """``min + (max - min) * (1 - cos(2πt / P)) / 2``, rounded half up, so it starts at ``min``."""

    min_users: int
    max_users: int
    period_s: float
    spawn_rate: float

    def __call__(self, elapsed_s: float) -> Stage:
        swing = (1 - math.cos(2 * math.pi * elapsed_s / self.period_s)) / 2
        users = math.floor(self.min_users + (self.max_users - self.min_users) * swing + 0.5)
        return Stage(users=users, spawn_rate=self.spawn_rate)


# --- phases ---


@dataclass(frozen=True)
class _Segment:
    """One held target, before its ramp is split off."""

    name: str
    duration_s: float
    users: int
    spawn_rate: float
    kind: str


def _phases_from(segments: Sequence[_Segment]) -> tuple[tuple[Phase, ...], tuple[float, ...]]:
    """Lay segments end to end, splitting a ramp phase off the front of each where needed.

    The ramp lasts ``ceil(|target - level| / spawn_rate)`` seconds, capped at the segment, where
    ``level`` is where a linear ramp at the previous rates would actually have got to: if a short
    stage never reaches its target, the next ramp starts from the level it did reach. Returns the
    phases and the end time of each segment (the breakpoints for :class:`_Piecewise`).

    Boundaries are rounded to the nanosecond so decimal durations add up as written
    (three 0.1 s steps end at 0.3, not 0.30000000000000004).
    """
    phases: list[Phase] = []
    ends: list[float] = []
    start_s = 0.0
    level = 0.0
    for segment in segments:
        end_s = round(start_s + segment.duration_s, _BOUNDARY_DIGITS)
        gap = abs(segment.users - level)
        ramp_s = min(float(math.ceil(gap / segment.spawn_rate)), segment.duration_s) if gap else 0.0
        if ramp_s > 0:
            name = "ramp-up" if level == 0 and not phases else f"ramp to {segment.name}"
            phases.append(Phase(name, start_s, start_s + ramp_s, segment.users, "ramp"))
        if start_s + ramp_s < end_s:
            phases.append(Phase(segment.name, start_s + ramp_s, end_s, segment.users, segment.kind))
        reach = segment.spawn_rate * segment.duration_s
        level = (
            segment.users if gap <= reach else level + math.copysign(reach, segment.users - level)
        )
        ends.append(end_s)
        start_s = end_s
    return tuple(phases), tuple(ends)


def _piecewise_plan(name: str, segments: Sequence[_Segment]) -> LoadPlan:
    phases, ends = _phases_from(segments)
    levels = tuple(Stage(s.users, s.spawn_rate) for s in segments)
    return LoadPlan(name, ends[-1], phases, _Piecewise(ends, levels))


# --- validation: every message names the factory, the argument and the value ---


def _check_int(where: str, arg: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: {arg} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {arg} must be >= {minimum}, got {value!r}")
    return value


def _check_seconds(where: str, arg: str, value: object, *, allow_zero: bool = False) -> float:
    """A finite number of seconds, > 0 (or >= 0 with ``allow_zero``); also used for rates."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: {arg} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{where}: {arg} must be {'>=' if allow_zero else '>'} 0, got {value!r}")
    return float(value)


# --- factories ---


def constant(*, users: int, spawn_rate: float, duration_s: float) -> LoadPlan:
    """Ramp to ``users`` at ``spawn_rate`` and hold them for ``duration_s`` seconds in total.

    Phases: ``"ramp-up"`` then ``"steady"``.
    """
    where = "constant"
    users = _check_int(where, "users", users, 1)
    rate = _check_seconds(where, "spawn_rate", spawn_rate)
    duration = _check_seconds(where, "duration_s", duration_s)
    return _piecewise_plan("constant", [_Segment("steady", duration, users, rate, "plateau")])


def stepped(
    *,
    start_users: int,
    step_users: int,
    step_duration_s: float,
    steps: int,
    spawn_rate: float,
    hold_s: float = 0,
) -> LoadPlan:
    """Climb in ``steps`` equal steps, then optionally hold the last level, then end.

    Step ``i`` (0-based) targets ``start_users + i * step_users`` for ``step_duration_s``; a
    negative ``step_users`` steps down, as long as the last level stays >= 0. Steps give each
    level its own plateau, which is how a capacity (scalability) test finds the knee.
    Phases: ``"ramp-up"``, ``"step 1"``, ``"ramp to step 2"``, ``"step 2"``, …, ``"hold"``.
    """
    where = "stepped"
    start_users = _check_int(where, "start_users", start_users, 0)
    step_users = _check_int(where, "step_users", step_users, -start_users)
    steps = _check_int(where, "steps", steps, 1)
    step_s = _check_seconds(where, "step_duration_s", step_duration_s)
    rate = _check_seconds(where, "spawn_rate", spawn_rate)
    hold = _check_seconds(where, "hold_s", hold_s, allow_zero=True)
    last = start_users + (steps - 1) * step_users
    if last < 0:
        raise ValueError(
            f"{where}: start_users + (steps - 1) * step_users must be >= 0, got {last} "
            f"(start_users={start_users}, step_users={step_users}, steps={steps})"
        )
    segments = [
        _Segment(f"step {i + 1}", step_s, start_users + i * step_users, rate, "plateau")
        for i in range(steps)
    ]
    if hold > 0:
        segments.append(_Segment("hold", hold, last, rate, "plateau"))
    return _piecewise_plan("stepped", segments)


def spike(
    *,
    base_users: int,
    spike_users: int,
    base_s: float,
    spike_s: float,
    recovery_s: float,
    spawn_rate: float,
    spike_spawn_rate: float | None = None,
) -> LoadPlan:
    """Hold ``base_users``, jump to ``spike_users`` for ``spike_s``, then drop back to recover.

    ``spike_users`` is the total during the spike, not the extra. The jump *and* the drop use
    ``spike_spawn_rate`` (default ``spike_users``, so either edge takes about a second): a spike
    is sudden both ways, and a slow ramp-down would blur the recovery being measured.
    ``spawn_rate`` only paces the initial ramp to ``base_users``.
    Phases: ``"ramp-up"``, ``"base"``, ``"ramp to spike"``, ``"spike"``, ``"ramp to recovery"``,
    ``"recovery"``.
    """
    where = "spike"
    base_users = _check_int(where, "base_users", base_users, 0)
    spike_users = _check_int(where, "spike_users", spike_users, base_users + 1)
    base = _check_seconds(where, "base_s", base_s)
    peak = _check_seconds(where, "spike_s", spike_s)
    recovery = _check_seconds(where, "recovery_s", recovery_s)
    rate = _check_seconds(where, "spawn_rate", spawn_rate)
    jump = (
        float(spike_users)
        if spike_spawn_rate is None
        else _check_seconds(where, "spike_spawn_rate", spike_spawn_rate)
    )
    segments = [
        _Segment("base", base, base_users, rate, "plateau"),
        _Segment("spike", peak, spike_users, jump, "spike"),
        _Segment("recovery", recovery, base_users, jump, "plateau"),
    ]
    return _piecewise_plan("spike", segments)


def wave(
    *, min_users: int, max_users: int, period_s: float, duration_s: float, spawn_rate: float
) -> LoadPlan:
    """Swing users between ``min_users`` and ``max_users`` along a cosine, starting at the trough.

    ``users(t) = round(min + (max - min) * (1 - cos(2πt / period_s)) / 2)`` (half up). Locust
    only follows the curve if ``spawn_rate`` is at least its steepest slope,
    ``π * (max - min) / period_s`` users per second; a slower rate flattens the crests.
    Phases: ``"ramp-up"`` to ``min_users`` (when it is > 0), then one ``"wave"`` phase per
    period, ``"cycle 1"``, ``"cycle 2"``, … (the last may be partial), each with
    ``users = max_users``.
    """
    where = "wave"
    min_users = _check_int(where, "min_users", min_users, 0)
    max_users = _check_int(where, "max_users", max_users, min_users + 1)
    period = _check_seconds(where, "period_s", period_s)
    duration = _check_seconds(where, "duration_s", duration_s)
    rate = _check_seconds(where, "spawn_rate", spawn_rate)
    phases: list[Phase] = []
    ramp_s = min(float(math.ceil(min_users / rate)), duration)
    if ramp_s > 0:
        phases.append(Phase("ramp-up", 0.0, ramp_s, min_users, "ramp"))
    cycles = math.ceil(duration / period)
    for k in range(cycles):
        start_s = max(k * period, ramp_s)
        end_s = min((k + 1) * period, duration)
        if start_s < end_s:
            phases.append(Phase(f"cycle {k + 1}", start_s, end_s, max_users, "wave"))
    return LoadPlan("wave", duration, tuple(phases), _Sinusoid(min_users, max_users, period, rate))


def stages(*, stages: Sequence[tuple[float, int, float]]) -> LoadPlan:
    """Free-form stages of ``(duration_s, users, spawn_rate)``, run one after the other.

    Locust/k6 semantics: each stage sets its target at its start and Locust moves toward it at
    that stage's ``spawn_rate`` (up or down), then holds it for the rest of the stage.
    Phases: ``"stage 1"``, ``"stage 2"``, …, each preceded by a ramp where the target changes.
    """
    where = "stages"
    if isinstance(stages, str | bytes) or not isinstance(stages, Sequence) or not stages:
        raise ValueError(
            f"{where}: stages must be a non-empty list of "
            f"(duration_s, users, spawn_rate), got {stages!r}"
        )
    segments = []
    for i, entry in enumerate(stages):
        if not isinstance(entry, Sequence) or isinstance(entry, str | bytes) or len(entry) != 3:
            raise ValueError(
                f"{where}: stages[{i}] must be (duration_s, users, spawn_rate), got {entry!r}"
            )
        duration_s, users, spawn_rate = entry
        segments.append(
            _Segment(
                f"stage {i + 1}",
                _check_seconds(where, f"stages[{i}].duration_s", duration_s),
                _check_int(where, f"stages[{i}].users", users, 0),
                _check_seconds(where, f"stages[{i}].spawn_rate", spawn_rate),
                "plateau",
            )
        )
    return _piecewise_plan("stages", segments)
