"""Arrival timing of an open-model group, on literal rate curves (no clock, no Locust)."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

import pytest

from framework.plan import rates
from framework.plan.arrivals import ArrivalTimes, Share


@dataclass(frozen=True)
class Linear:
    """A rate that moves linearly between ``points`` ``(t_s, rate)``; its integral is exact."""

    points: tuple[tuple[float, float], ...]

    @property
    def duration_s(self) -> float:
        return self.points[-1][0]

    def rate_at(self, elapsed_s: float) -> float | None:
        if elapsed_s >= self.duration_s:
            return None
        for (t0, r0), (t1, r1) in zip(self.points, self.points[1:], strict=False):
            if t0 <= elapsed_s < t1:
                return r0 + (r1 - r0) * (elapsed_s - t0) / (t1 - t0)
        raise AssertionError(elapsed_s)

    def _area(self, until_s: float) -> float:
        area = 0.0
        for (t0, r0), (t1, r1) in zip(self.points, self.points[1:], strict=False):
            if until_s <= t0:
                break
            end = min(until_s, t1)
            area += (r0 + (r0 + (r1 - r0) * (end - t0) / (t1 - t0))) / 2 * (end - t0)
        return area

    def expected_arrivals(self, start_s: float, end_s: float) -> float:
        return self._area(end_s) - self._area(start_s)


CONSTANT = Linear(((0.0, 50.0), (10.0, 50.0)))
WHOLE = Share()
RAMPS = Linear(((0.0, 0.0), (10.0, 100.0), (20.0, 100.0), (20.000001, 10.0), (30.0, 10.0)))


def _all_due(times: ArrivalTimes, share: Share = WHOLE) -> list[float]:
    due, after = [], -1.0
    while (next_due := times.next_due(after, share)) is not None:
        assert next_due > after
        due.append(next_due)
        after = next_due
    return due


def _count(due: list[float], start_s: float, end_s: float) -> int:
    return sum(start_s <= t < end_s for t in due)


def test_uniform_constant_rate_is_evenly_spaced_from_zero() -> None:
    due = _all_due(ArrivalTimes(CONSTANT))
    assert len(due) == 500
    assert due[:3] == [0.0, 0.02, 0.04]
    assert all(b - a == pytest.approx(0.02) for a, b in itertools.pairwise(due))


@pytest.mark.parametrize("window", [(0, 1), (3.3, 7.9), (9, 10)])
def test_uniform_counts_over_a_window_match_the_expected_arrivals(
    window: tuple[float, float],
) -> None:
    for plan in (CONSTANT, RAMPS):
        due = _all_due(ArrivalTimes(plan))
        assert abs(_count(due, *window) - plan.expected_arrivals(*window)) <= 1


def test_uniform_follows_a_ramp_and_a_step_down() -> None:
    due = _all_due(ArrivalTimes(RAMPS))
    assert len(due) == math.ceil(RAMPS.expected_arrivals(0, 30))
    assert abs(_count(due, 0, 10) - 500) <= 1  # the ramp's integral: 10 s x 100/s / 2
    assert abs(_count(due, 10, 20) - 1000) <= 1
    assert abs(_count(due, 20, 30) - 100) <= 1
    # spacing is 1 / rate: 10 ms on the plateau, 100 ms after the step down
    plateau = [t for t in due if 12 <= t < 18]
    assert max(b - a for a, b in itertools.pairwise(plateau)) == pytest.approx(0.01)
    tail = [t for t in due if t >= 21]
    assert min(b - a for a, b in itertools.pairwise(tail)) == pytest.approx(0.1)


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_uniform_shares_interleave_without_duplicates_or_gaps(workers: int) -> None:
    times = ArrivalTimes(RAMPS)
    whole = _all_due(times)
    parts = [_all_due(times, Share(i, workers)) for i in range(workers)]
    union = sorted(t for part in parts for t in part)
    assert len(union) == len(whole)
    assert max(abs(a - b) for a, b in zip(union, whole, strict=True)) < 1e-6
    assert [len(part) for part in parts] == [
        len(whole[i::workers]) for i in range(workers)
    ]  # round robin: arrival k belongs to worker k mod n


def test_uniform_resplit_from_now_continues_the_global_sequence() -> None:
    times = ArrivalTimes(CONSTANT)
    # worker 0 alone until 1.0 s, then a second worker joins: 0 of 2 and 1 of 2 from then on
    alone = [t for t in _all_due(times) if t < 1.0]
    after_0 = times.next_due(0.999, Share(0, 2))
    after_1 = times.next_due(0.999, Share(1, 2))
    assert len(alone) == 50
    assert (after_0, after_1) == (pytest.approx(1.0), pytest.approx(1.02))


def test_poisson_counts_stay_within_a_statistical_bound() -> None:
    times = ArrivalTimes(RAMPS, "poisson", random.Random(15))
    due = _all_due(times)
    for start, end in ((0, 10), (10, 20), (20, 30)):
        expected = RAMPS.expected_arrivals(start, end)
        assert abs(_count(due, start, end) - expected) <= 4 * math.sqrt(expected)


def test_poisson_shares_are_independent_processes_at_rate_over_n() -> None:
    rng = random.Random(7)
    times = ArrivalTimes(CONSTANT, "poisson", rng)
    counts = [len(_all_due(times, Share(i, 4))) for i in range(4)]
    for count in counts:  # each ~ Poisson(500 / 4)
        assert abs(count - 125) <= 4 * math.sqrt(125)
    assert len(set(counts)) > 1  # independent draws, not one sequence dealt round robin


def test_poisson_gaps_are_exponential_with_the_rate() -> None:
    due = _all_due(
        ArrivalTimes(Linear(((0.0, 200.0), (100.0, 200.0))), "poisson", random.Random(3))
    )
    gaps = [b - a for a, b in itertools.pairwise(due)]
    mean = sum(gaps) / len(gaps)
    assert mean == pytest.approx(1 / 200, rel=0.05)
    # exponential: the share of gaps above the mean is e^-1
    assert sum(g > mean for g in gaps) / len(gaps) == pytest.approx(math.exp(-1), abs=0.02)


def test_poisson_with_a_fixed_seed_is_reproducible() -> None:
    first = _all_due(ArrivalTimes(CONSTANT, "poisson", random.Random(1)), Share(1, 2))
    again = _all_due(ArrivalTimes(CONSTANT, "poisson", random.Random(1)), Share(1, 2))
    assert first == again


def test_no_arrival_is_due_at_or_after_the_end() -> None:
    times = ArrivalTimes(CONSTANT)
    assert times.next_due(9.98) is None
    assert times.next_due(10.0) is None
    assert times.next_due(1e9) is None
    assert ArrivalTimes(CONSTANT, "poisson", random.Random(0)).next_due(10.0) is None


def test_bad_arguments_are_refused_with_their_value() -> None:
    with pytest.raises(ValueError, match="model must be one of uniform, poisson, got 'bursty'"):
        ArrivalTimes(CONSTANT, "bursty")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"index must be an integer in \[0, 2\), got 2"):
        Share(2, 2)
    with pytest.raises(ValueError, match="count must be an integer >= 1, got 0"):
        Share(0, 0)
    with pytest.raises(ValueError, match="after_s must be a number"):
        ArrivalTimes(CONSTANT).next_due(math.nan)


@pytest.mark.parametrize(
    "plan",
    [
        rates.wave(min_rate=5, max_rate=80, period_s=7, duration_s=20),
        rates.stages(stages=[(5, 40, 2), (5, 10, 3), (4, 60, 0)]),
        rates.spike(base_rate=10, spike_rate=90, base_s=4, spike_s=3, recovery_s=4, ramp_s=1),
    ],
    ids=["wave", "stages", "spike"],
)
def test_the_plans_shapes_keep_their_expected_arrivals_across_two_workers(
    plan: rates.RatePlan,
) -> None:
    times = ArrivalTimes(plan)
    whole = _all_due(times)
    union = sorted(t for i in range(2) for t in _all_due(times, Share(i, 2)))
    assert max(abs(a - b) for a, b in zip(union, whole, strict=True)) < 1e-6
    for start in range(math.ceil(plan.duration_s)):
        end = min(start + 1.0, plan.duration_s)
        assert abs(_count(whole, start, end) - plan.expected_arrivals(start, end)) <= 1


@dataclass(frozen=True)
class Searched:
    """A plan's curve without ``segment_at``: its due times come from the search alone."""

    plan: rates.RatePlan

    @property
    def duration_s(self) -> float:
        return self.plan.duration_s

    def rate_at(self, elapsed_s: float) -> float | None:
        return self.plan.rate_at(elapsed_s)

    def expected_arrivals(self, start_s: float, end_s: float) -> float:
        return self.plan.expected_arrivals(start_s, end_s)


@pytest.mark.parametrize("model", ["uniform", "poisson"])
@pytest.mark.parametrize("workers", [1, 3])
def test_steady_stretches_in_closed_form_give_the_searched_due_times(
    model: str, workers: int
) -> None:
    plan = rates.stages(stages=[(2.0, 40.0, 1.0), (1.5, 7.0, 0.0), (2.0, 90.0, 0.5)])
    for index in range(workers):
        share = Share(index, workers)
        closed = ArrivalTimes(plan, model, random.Random(7))
        searched = ArrivalTimes(Searched(plan), model, random.Random(7))
        closed_due, searched_due = _all_due(closed, share), _all_due(searched, share)
        assert len(closed_due) == len(searched_due) > 0
        assert max(abs(a - b) for a, b in zip(closed_due, searched_due, strict=True)) < 1e-9


def test_segment_at_names_the_steady_stretches_and_the_ramps() -> None:
    plan = rates.stepped(start_rate=10, step_rate=10, step_duration_s=60, steps=2, ramp_s=5)
    assert plan.segment_at(2.0) == (0.0, 5.0, None)
    assert plan.segment_at(5.0) == (5.0, 60.0, 10.0)
    assert plan.segment_at(119.5) == (65.0, 120.0, 20.0)
    wave = rates.wave(min_rate=1, max_rate=5, period_s=10, duration_s=10)
    assert wave.segment_at(3.0) == (0.0, 10.0, None)
    with pytest.raises(ValueError, match="segment_at"):
        plan.segment_at(120.0)


def test_a_steady_stretch_is_integrated_once_not_once_per_arrival() -> None:
    plan = rates.constant(rate=1000, duration_s=5)
    calls = []

    @dataclass(frozen=True)
    class Counted(Searched):
        def expected_arrivals(self, start_s: float, end_s: float) -> float:
            calls.append((start_s, end_s))
            return self.plan.expected_arrivals(start_s, end_s)

        def segment_at(self, elapsed_s: float) -> tuple[float, float, float | None]:
            return self.plan.segment_at(elapsed_s)

    assert len(_all_due(ArrivalTimes(Counted(plan)))) == 5000
    assert len(calls) <= 3
