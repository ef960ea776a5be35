"""Open-model plans: pure functions from elapsed seconds to an arrival rate.

A closed plan (:mod:`framework.plan.shapes`) says how many users run; an open plan says how
many arrivals per second are due, whatever the target does, so that a slow target is not
sent less (coordinated omission). The same five shapes exist, in arrivals per second:
constant, stepped, spike, wave and stages. Where a shape moves from one level to the next,
``ramp_s`` seconds of linear change are split off as a ``"ramp"`` phase, as closed ramps are,
because what is measured while the rate moves describes the change, not the level::

    >>> plan = stepped(start_rate=10, step_rate=10, step_duration_s=60, steps=2, ramp_s=5)
    >>> [(p.name, p.start_s, p.end_s, p.rate) for p in plan.phases]
    [('ramp-up', 0.0, 5.0, 10.0), ('step 1', 5.0, 60.0, 10.0), ('ramp to step 2', 60.0, 65.0, \
20.0), ('step 2', 65.0, 120.0, 20.0)]
    >>> plan.rate_at(62.5)
    15.0
    >>> plan.expected_arrivals(0, 120)
    1750.0
    >>> plan.rate_at(120) is None
    True

The previous level of the first step (or stage, or spike's base) is 0, so a ramp there
starts the run gently; with ``ramp_s=0`` (the default) every level starts at once.
:meth:`RatePlan.expected_arrivals` is the integral of the rate: the number of arrivals the
schedule lays out in a window, which the engine and the tests compare what happened with.
Phases carry ``users=0`` and the level in ``rate`` (a ramp: the level it ramps to; a wave
cycle: the crest). Factories take keyword-only arguments and raise ``ValueError`` naming the
factory, the argument and the value.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from framework.plan.shapes import Phase, phase_containing

__all__ = [
    "RatePlan",
    "constant",
    "spike",
    "stages",
    "stepped",
    "wave",
]

_BOUNDARY_DIGITS = 9
_SIMPSON_STEPS = 1000


@dataclass(frozen=True)
class RatePlan:
    """An open load over time: a name, a duration, its phases, and the arrival rate at each moment.

    ``rate_fn`` holds the shape's rule and is only consulted for ``0 <= t < duration_s``;
    :meth:`rate_at` owns the end and bad input, as :meth:`LoadPlan.stage_at` does. A
    ``rate_fn`` with an ``integral(start_s, end_s)`` method (every factory's) gives
    :meth:`expected_arrivals` exactly; any other callable is integrated numerically.
    """

    name: str
    duration_s: float
    phases: tuple[Phase, ...]
    rate_fn: Callable[[float], float] = field(repr=False)

    def rate_at(self, elapsed_s: float) -> float | None:
        """Arrivals per second due ``elapsed_s`` into the run, ``None`` from ``duration_s`` on.

        A negative or NaN time is a caller's bug and raises ``ValueError``.
        """
        if not elapsed_s >= 0:  # also catches NaN
            raise ValueError(f"{self.name}: elapsed_s must be >= 0, got {elapsed_s!r}")
        if elapsed_s >= self.duration_s:
            return None
        return self.rate_fn(elapsed_s)

    @property
    def peak_rate(self) -> float:
        """The highest rate anywhere in the plan (a wave's crest), arrivals per second."""
        return max((p.rate or 0.0 for p in self.phases), default=0.0)

    def phase_at(self, elapsed_s: float) -> Phase | None:
        """The phase containing ``elapsed_s``, or ``None`` outside ``[0, duration_s)``."""
        return phase_containing(self.phases, elapsed_s)

    def expected_arrivals(self, start_s: float, end_s: float) -> float:
        """Arrivals the schedule lays out in ``[start_s, end_s)``: the integral of the rate.

        The window is clipped to the plan (nothing is due after its end); ``ValueError``
        unless ``0 <= start_s <= end_s`` (finite).
        """
        if not (0 <= start_s <= end_s and math.isfinite(end_s)):
            raise ValueError(
                f"{self.name}: expected_arrivals needs 0 <= start_s <= end_s (finite), "
                f"got start_s={start_s!r}, end_s={end_s!r}"
            )
        lo, hi = start_s, min(end_s, self.duration_s)
        if hi <= lo:
            return 0.0
        integral = getattr(self.rate_fn, "integral", None)
        if integral is not None:
            return float(integral(lo, hi))
        return _simpson(self.rate_fn, lo, hi)

    def segment_at(self, elapsed_s: float) -> tuple[float, float, float | None]:
        """The stretch ``[start_s, end_s)`` of the plan around ``elapsed_s`` and its rate if
        the rate holds still all along it (``None`` while it moves: a ramp, a wave).

        Arrival timing (:mod:`framework.plan.arrivals`) inverts a steady stretch's integral in
        closed form instead of searching for each due time. ``ValueError`` unless
        ``0 <= elapsed_s < duration_s``.
        """
        if not 0 <= elapsed_s < self.duration_s:
            raise ValueError(
                f"{self.name}: segment_at needs 0 <= elapsed_s < {self.duration_s:g}, "
                f"got {elapsed_s!r}"
            )
        segment_at = getattr(self.rate_fn, "segment_at", None)
        if segment_at is None:
            return 0.0, self.duration_s, None
        return segment_at(elapsed_s)


def _simpson(fn: Callable[[float], float], lo: float, hi: float) -> float:
    """Simpson's rule on an even number of steps: for rate rules without a closed form."""
    n = _SIMPSON_STEPS
    h = (hi - lo) / n
    total = fn(lo) + fn(hi - 1e-12 * (hi - lo))
    total += sum((4 if k % 2 else 2) * fn(lo + k * h) for k in range(1, n))
    return total * h / 3


# --- the rules behind rate_fn: small frozen callables with their integral ---


@dataclass(frozen=True)
class _Linear:
    """Piecewise-linear rate: segment ``i`` covers ``[starts[i], starts[i+1])`` and moves from
    ``begin[i]`` to ``end[i]`` (equal on a plateau)."""

    starts_s: tuple[float, ...]
    ends_s: tuple[float, ...]
    begin: tuple[float, ...]
    end: tuple[float, ...]

    def __call__(self, elapsed_s: float) -> float:
        i = max(0, min(bisect_right(self.starts_s, elapsed_s) - 1, len(self.starts_s) - 1))
        return self._value(i, elapsed_s)

    def _value(self, i: int, t: float) -> float:
        span = self.ends_s[i] - self.starts_s[i]
        if self.begin[i] == self.end[i] or span <= 0:
            return self.end[i]
        fraction = min(max((t - self.starts_s[i]) / span, 0.0), 1.0)
        return self.begin[i] + (self.end[i] - self.begin[i]) * fraction

    def segment_at(self, elapsed_s: float) -> tuple[float, float, float | None]:
        """The segment around ``elapsed_s``: its bounds, and its rate if it is a plateau."""
        i = max(0, min(bisect_right(self.starts_s, elapsed_s) - 1, len(self.starts_s) - 1))
        steady = self.begin[i] == self.end[i] or self.ends_s[i] <= self.starts_s[i]
        return self.starts_s[i], self.ends_s[i], self.end[i] if steady else None

    def integral(self, lo: float, hi: float) -> float:
        """Exact: each segment's part of the window is a trapezoid."""
        total = 0.0
        for i, (s, e) in enumerate(zip(self.starts_s, self.ends_s, strict=True)):
            a, b = max(lo, s), min(hi, e)
            if b > a:
                total += (self._value(i, a) + self._value(i, b)) / 2 * (b - a)
        return total


@dataclass(frozen=True)
class _Cosine:
    """``min + (max - min) * (1 - cos(2πt / P)) / 2``: starts at ``min``, crests at ``P / 2``."""

    min_rate: float
    max_rate: float
    period_s: float

    def __call__(self, elapsed_s: float) -> float:
        swing = (1 - math.cos(2 * math.pi * elapsed_s / self.period_s)) / 2
        return self.min_rate + (self.max_rate - self.min_rate) * swing

    def _antiderivative(self, t: float) -> float:
        omega = 2 * math.pi / self.period_s
        half = (self.max_rate - self.min_rate) / 2
        return self.min_rate * t + half * (t - math.sin(omega * t) / omega)

    def integral(self, lo: float, hi: float) -> float:
        """Exact: ``min·t + (max - min)/2 · (t - sin(ωt)/ω)`` between the bounds."""
        return self._antiderivative(hi) - self._antiderivative(lo)


# --- phases ---


@dataclass(frozen=True)
class _Level:
    """One held rate, before its ramp is split off."""

    name: str
    duration_s: float
    rate: float
    ramp_s: float
    kind: str


def _linear_plan(name: str, levels: Sequence[_Level]) -> RatePlan:
    """Lay levels end to end; where a level starts with a ramp (and the rate changes), the
    ramp is its own phase and the rate moves linearly from the previous level to it.

    Boundaries are rounded to the nanosecond so decimal durations add up as written.
    """
    phases: list[Phase] = []
    starts, ends, begin, end = [], [], [], []
    start_s = 0.0
    previous = 0.0
    for level in levels:
        end_s = round(start_s + level.duration_s, _BOUNDARY_DIGITS)
        ramp_s = min(level.ramp_s, level.duration_s) if level.rate != previous else 0.0
        ramp_end = round(start_s + ramp_s, _BOUNDARY_DIGITS)
        if ramp_s > 0:
            ramp_name = "ramp-up" if not phases and previous == 0 else f"ramp to {level.name}"
            phases.append(Phase(ramp_name, start_s, ramp_end, 0, "ramp", rate=level.rate))
            starts.append(start_s)
            ends.append(ramp_end)
            begin.append(previous)
            end.append(level.rate)
        if ramp_end < end_s:
            phases.append(Phase(level.name, ramp_end, end_s, 0, level.kind, rate=level.rate))
            starts.append(ramp_end)
            ends.append(end_s)
            begin.append(level.rate)
            end.append(level.rate)
        previous = level.rate
        start_s = end_s
    rule = _Linear(tuple(starts), tuple(ends), tuple(begin), tuple(end))
    return RatePlan(name, start_s, tuple(phases), rule)


# --- validation: every message names the factory, the argument and the value ---


def _check_number(where: str, arg: str, value: object, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0 with ``allow_zero``): a rate, a duration or a ramp."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: {arg} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{where}: {arg} must be {'>=' if allow_zero else '>'} 0, got {value!r}")
    return float(value)


def _check_int(where: str, arg: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: {arg} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {arg} must be >= {minimum}, got {value!r}")
    return value


# --- factories ---


def constant(*, rate: float, duration_s: float) -> RatePlan:
    """``rate`` arrivals per second from the first moment to ``duration_s``.

    Phases: ``"steady"``.
    """
    where = "constant"
    level = _Level(
        "steady",
        _check_number(where, "duration_s", duration_s),
        _check_number(where, "rate", rate),
        0.0,
        "plateau",
    )
    return _linear_plan("constant", [level])


def stepped(
    *,
    start_rate: float,
    step_rate: float,
    step_duration_s: float,
    steps: int,
    hold_s: float = 0,
    ramp_s: float = 0,
) -> RatePlan:
    """``steps`` levels ``start_rate + i * step_rate``, each ``step_duration_s``, then a hold.

    Each level's first ``ramp_s`` seconds move the rate linearly from the level before (0
    before the first). Phases: ``"step 1"``, ``"ramp to step 2"``, ``"step 2"``, …, ``"hold"``
    (``"ramp-up"`` first when ``ramp_s`` > 0).
    """
    where = "stepped"
    start = _check_number(where, "start_rate", start_rate)
    step = _check_number(where, "step_rate", step_rate)
    steps = _check_int(where, "steps", steps, 1)
    step_s = _check_number(where, "step_duration_s", step_duration_s)
    hold = _check_number(where, "hold_s", hold_s, allow_zero=True)
    ramp = _check_number(where, "ramp_s", ramp_s, allow_zero=True)
    levels = [
        _Level(f"step {i + 1}", step_s, start + i * step, ramp, "plateau") for i in range(steps)
    ]
    if hold > 0:
        levels.append(_Level("hold", hold, start + (steps - 1) * step, 0.0, "plateau"))
    return _linear_plan("stepped", levels)


def spike(
    *,
    base_rate: float,
    spike_rate: float,
    base_s: float,
    spike_s: float,
    recovery_s: float,
    ramp_s: float = 0,
) -> RatePlan:
    """``base_rate``, then ``spike_rate`` (the total, not the extra) for ``spike_s``, then back.

    ``ramp_s`` (default 0: sudden, as a spike is) is the time each change takes, the jump,
    the drop and the start from 0 alike. Phases: ``"base"``, ``"spike"``, ``"recovery"``,
    with ``"ramp-up"``, ``"ramp to spike"``, ``"ramp to recovery"`` when ``ramp_s`` > 0.
    """
    where = "spike"
    base = _check_number(where, "base_rate", base_rate)
    peak = _check_number(where, "spike_rate", spike_rate)
    if peak <= base:
        raise ValueError(f"{where}: spike_rate must be > base_rate ({base:g}), got {spike_rate!r}")
    ramp = _check_number(where, "ramp_s", ramp_s, allow_zero=True)
    levels = [
        _Level("base", _check_number(where, "base_s", base_s), base, ramp, "plateau"),
        _Level("spike", _check_number(where, "spike_s", spike_s), peak, ramp, "spike"),
        _Level("recovery", _check_number(where, "recovery_s", recovery_s), base, ramp, "plateau"),
    ]
    return _linear_plan("spike", levels)


def wave(*, min_rate: float, max_rate: float, period_s: float, duration_s: float) -> RatePlan:
    """A cosine from ``min_rate`` (at 0) up to ``max_rate`` (at half a period) and back.

    ``rate(t) = min + (max - min) * (1 - cos(2πt / period_s)) / 2``. Phases: one ``"wave"``
    phase per period, ``"cycle 1"``, ``"cycle 2"``, … (the last may be partial), each with
    ``rate = max_rate``.
    """
    where = "wave"
    low = _check_number(where, "min_rate", min_rate)
    high = _check_number(where, "max_rate", max_rate)
    if high <= low:
        raise ValueError(f"{where}: max_rate must be > min_rate ({low:g}), got {max_rate!r}")
    period = _check_number(where, "period_s", period_s)
    duration = _check_number(where, "duration_s", duration_s)
    phases = []
    for k in range(math.ceil(duration / period)):
        start_s, end_s = k * period, min((k + 1) * period, duration)
        if start_s < end_s:
            phases.append(Phase(f"cycle {k + 1}", start_s, end_s, 0, "wave", rate=high))
    return RatePlan("wave", duration, tuple(phases), _Cosine(low, high, period))


def stages(*, stages: Sequence[tuple[float, float, float]]) -> RatePlan:
    """Free-form stages of ``(duration_s, rate, ramp_s)``, run one after the other.

    Each stage's first ``ramp_s`` seconds move the rate linearly from the previous stage's
    (0 before the first). Phases: ``"stage 1"``, ``"stage 2"``, …, each preceded by a ramp
    where it has one and the rate changes.
    """
    where = "stages"
    if isinstance(stages, str | bytes) or not isinstance(stages, Sequence) or not stages:
        raise ValueError(
            f"{where}: stages must be a non-empty list of (duration_s, rate, ramp_s), "
            f"got {stages!r}"
        )
    levels = []
    for i, entry in enumerate(stages):
        if not isinstance(entry, Sequence) or isinstance(entry, str | bytes) or len(entry) != 3:
            raise ValueError(
                f"{where}: stages[{i}] must be (duration_s, rate, ramp_s), got {entry!r}"
            )
        duration_s, rate, ramp_s = entry
        levels.append(
            _Level(
                f"stage {i + 1}",
                _check_number(where, f"stages[{i}].duration_s", duration_s),
                _check_number(where, f"stages[{i}].rate", rate),
                _check_number(where, f"stages[{i}].ramp_s", ramp_s, allow_zero=True),
                "plateau",
            )
        )
    return _linear_plan("stages", levels)
