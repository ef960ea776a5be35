"""When the arrivals of an open-model load group are due, for one load generator's share.

Pure (no clock, no Locust): the engine (:mod:`framework.locust_glue.engine`) asks
:meth:`ArrivalTimes.next_due` for the next plan-time after the last arrival it started and
sleeps until then. Everything here is a function of the plan's cumulative arrivals
``Λ(t) = plan.expected_arrivals(0, t)`` (the integral of the rate), so steps, ramps and
waves are all handled by the one rule, and a rate change lands exactly where the plan puts it.
Where the plan says its rate holds still (``RatePlan.segment_at``: a constant load, a step,
a stage), ``Λ`` is linear and its inverse a division, so a busy generator pays one integral
per steady stretch instead of a search per arrival; ramps and waves are searched.

- **uniform** (the default): the group's arrival ``k`` (0, 1, 2, …) is due when
  ``Λ(t) = k``: spacing ``1 / rate(t)``, the first at 0 s. A generator that is worker ``i``
  of ``n`` takes the arrivals ``k ≡ i (mod n)``, so the union over the workers is the
  group's one evenly spaced sequence, with no arrival twice and none missing.
- **poisson**: each generator runs an independent Poisson process at ``rate(t) / n`` (their
  sum is a Poisson process at ``rate(t)``), by time rescaling: the next arrival after ``s``
  is due where ``Λ(t) = Λ(s) + n·E``, ``E ~ Exp(1)`` from the caller's seeded
  ``random.Random``. The process is memoryless, so a change of ``n`` takes effect from the
  next draw with nothing to carry over.

Workers joining or leaving change the share ``(index, count)``; the caller passes the
current one to every call, and asks again from *now* after a change (see ``next_due``).

    >>> from framework.plan.rates import constant
    >>> times = ArrivalTimes(constant(rate=4, duration_s=2))
    >>> [times.next_due(s) for s in (-1, 0.0, 0.25)]
    [0.0, 0.25, 0.5]
    >>> [times.next_due(s, Share(1, 2)) for s in (-1, 0.25)]
    [0.25, 0.75]
    >>> times.next_due(1.75) is None
    True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["ARRIVAL_MODELS", "ArrivalModel", "ArrivalTimes", "RateCurve", "Share"]

ArrivalModel = Literal["uniform", "poisson"]
ARRIVAL_MODELS: tuple[ArrivalModel, ...] = ("uniform", "poisson")

_TOLERANCE_ARRIVALS = 1e-9
"""How close ``Λ(t)`` must come to its target: a billionth of an arrival."""
_TOLERANCE_S = 1e-9
_SAME_ARRIVAL = 1e-6
"""A ``Λ`` within a millionth of an arrival of ``k`` is at arrival ``k``."""
_MAX_STEPS = 200


class RateCurve(Protocol):
    """What arrival timing needs of a plan (``framework.plan.rates.RatePlan`` has it)."""

    @property
    def duration_s(self) -> float: ...

    def rate_at(self, elapsed_s: float) -> float | None: ...

    def expected_arrivals(self, start_s: float, end_s: float) -> float: ...


@dataclass(frozen=True)
class Share:
    """One load generator's part of a group: it is generator ``index`` of ``count``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"Share: count must be an integer >= 1, got {self.count!r}")
        if (
            isinstance(self.index, bool)
            or not isinstance(self.index, int)
            or not 0 <= self.index < self.count
        ):
            raise ValueError(
                f"Share: index must be an integer in [0, {self.count}), got {self.index!r}"
            )


class ArrivalTimes:
    """The due plan-times of one open group's arrivals, for whichever share asks.

    ``model`` is ``"uniform"`` or ``"poisson"``; Poisson draws from ``rng`` (pass a seeded
    ``random.Random`` for a reproducible run, or leave it to a fresh one).
    """

    def __init__(
        self,
        plan: RateCurve,
        model: ArrivalModel = "uniform",
        rng: random.Random | None = None,
    ) -> None:
        if model not in ARRIVAL_MODELS:
            raise ValueError(
                f"ArrivalTimes: model must be one of {', '.join(ARRIVAL_MODELS)}, got {model!r}"
            )
        self.plan = plan
        self.model: ArrivalModel = model
        self.rng = rng if rng is not None else random.Random()
        self._end_s = float(plan.duration_s)
        self._total = plan.expected_arrivals(0.0, self._end_s)
        # Λ at the last point asked: the next call asks it again (from the due time it
        # returned), which halves the integrals per arrival on a busy generator
        self._last: tuple[float, float] = (0.0, 0.0)
        # the plan's steady stretch last looked at, [start, end) at ``rate`` with Λ(start):
        # inside it Λ is linear, and its inverse is a division (empty until one is found)
        self._steady: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self._looked: tuple[float, float] = (0.0, 0.0)
        """The stretch last asked of the plan (steady or not), not to ask again inside it."""

    def __repr__(self) -> str:
        return f"ArrivalTimes({self.model}, duration_s={self._end_s:g}, total={self._total:g})"

    def cumulative(self, elapsed_s: float) -> float:
        """``Λ(t)``: the arrivals the whole group expects in ``[0, elapsed_s)``."""
        if elapsed_s <= 0:
            return 0.0
        if elapsed_s >= self._end_s:
            return self._total
        start, end, rate, at_start = self._steady
        if start <= elapsed_s < end:
            return at_start + rate * (elapsed_s - start)
        at, value = self._last
        if elapsed_s != at:
            value = self.plan.expected_arrivals(0.0, elapsed_s)
            self._last = (elapsed_s, value)
        return value

    def next_due(self, after_s: float, share: Share = Share()) -> float | None:
        """The first due plan-time of ``share``'s arrivals strictly after ``after_s``.

        (Uniform: an arrival within a millionth of an arrival of ``after_s`` counts as at
        it, so asking again from the due time just returned never returns it twice.)

        Pass a negative ``after_s`` (e.g. ``-1``) to include an arrival due at 0 s; ``None``
        once the plan has no more arrivals for this share. After a change of share, ask
        from the current plan-time rather than from the last arrival, so that nothing
        already past is started late.
        """
        if not after_s < self._end_s:  # also catches NaN
            if math.isnan(after_s):
                raise ValueError(f"next_due: after_s must be a number, got {after_s!r}")
            return None
        if self.model == "uniform":
            return self._next_uniform(after_s, share)
        return self._next_poisson(after_s, share)

    # -- the two models --------------------------------------------------------------------

    def _next_uniform(self, after_s: float, share: Share) -> float | None:
        n, i = share.count, share.index
        # after_s is usually the last arrival's due time, where Λ is k to within the
        # inversion's tolerance, either side: _SAME_ARRIVAL keeps k from being taken twice
        k = 0 if after_s < 0 else math.floor(self.cumulative(after_s) + _SAME_ARRIVAL) + 1
        k += (i - k) % n  # the first k >= k that is this share's
        while True:
            if k >= self._total - _TOLERANCE_ARRIVALS:
                return None
            due = self._inverse(float(k), max(after_s, 0.0))
            if due is None:
                return None
            if due > after_s:
                return due
            k += n  # rounding put arrival k at or before after_s: it was the last one

    def _next_poisson(self, after_s: float, share: Share) -> float | None:
        start = max(after_s, 0.0)
        target = self.cumulative(start) + share.count * self.rng.expovariate(1.0)
        if target >= self._total:
            return None
        due = self._inverse(target, start)
        return due if due is not None and due > after_s else self._nudge(after_s, due)

    def _nudge(self, after_s: float, due: float | None) -> float | None:
        """A draw so close to ``after_s`` that rounding put it at ``after_s``: just after."""
        if due is None:
            return None
        later = math.nextafter(max(after_s, 0.0), math.inf)
        return later if later < self._end_s else None

    # -- Λ⁻¹ ------------------------------------------------------------------------------

    def _inverse(self, target: float, lo_s: float) -> float | None:
        """The earliest ``t >= lo_s`` with ``Λ(t) >= target``, or ``None`` past the end.

        Newton's method on ``Λ(t) - target`` (its slope is the rate), kept inside a bracket
        that bisection shrinks whenever a Newton step would leave it or the rate is 0, so
        it converges on steps, ramps from 0 and waves alike.
        """
        if target >= self._total:
            return None
        start, end, rate, at_start = self._steady
        if not start <= lo_s < end:
            start, end, rate, at_start = self._look(lo_s)
        if start <= lo_s < end:
            t = start + (target - at_start) / rate
            if t < end:
                return t if t > lo_s else lo_s
        lo, hi = lo_s, self._end_s
        f_lo = self.cumulative(lo) - target
        if f_lo >= 0:
            return lo
        t = lo
        f = f_lo
        for _ in range(_MAX_STEPS):
            rate = self.plan.rate_at(t) if t < self._end_s else None
            step_ok = False
            if rate:
                candidate = t - f / rate
                step_ok = lo < candidate < hi
            t = candidate if step_ok else (lo + hi) / 2
            f = self.cumulative(t) - target
            if f >= 0:
                hi = t
                if f < _TOLERANCE_ARRIVALS:
                    return t
            else:
                lo = t
                if -f < _TOLERANCE_ARRIVALS:
                    return math.nextafter(t, math.inf) if t < hi else hi
            if hi - lo < _TOLERANCE_S:
                return hi
        return hi

    def _look(self, elapsed_s: float) -> tuple[float, float, float, float]:
        """The steady stretch of the plan around ``elapsed_s`` (cached), or an empty one.

        A plan that can say where its rate holds still (``RatePlan.segment_at``) is asked
        once per stretch; any other curve (a bare ``RateCurve``) is searched every time.
        """
        looked_start, looked_end = self._looked
        segment_at = getattr(self.plan, "segment_at", None)
        if looked_start <= elapsed_s < looked_end or segment_at is None:
            return self._steady
        start, end, rate = segment_at(elapsed_s)
        self._looked = (start, end)
        if rate is not None and rate > 0:
            self._steady = (start, end, rate, self.plan.expected_arrivals(0.0, start))
        return self._steady
