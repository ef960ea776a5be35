"""Unit tests of framework.stats.changepoint on literal and seeded histories."""

from __future__ import annotations

import numpy as np
import pytest

from framework.stats.changepoint import ChangePoint, detect


def noisy(levels, cv=0.01, seed=0):
    """A history holding each (value, runs) level in turn, with multiplicative noise."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.full(runs, value, dtype=float) for value, runs in levels])
    return x * (1 + cv * rng.standard_normal(x.size))


def test_a_clean_step_is_found_where_it_happens():
    (cp,) = detect([100.0] * 12 + [110.0] * 12)
    assert cp == ChangePoint(12, 100.0, 110.0, pytest.approx(0.10), 0.0, pytest.approx(120.0))


def test_a_step_down_has_a_negative_relative_change():
    (cp,) = detect(noisy([(100, 15), (90, 15)]))
    assert cp.index == 15
    assert cp.relative_change == pytest.approx(-0.10, abs=0.01)
    assert cp.p_value < 0.001


def test_flat_and_short_histories_have_no_change_points():
    assert detect([100.0] * 30) == ()
    assert detect(noisy([(100, 40)], cv=0.03)) == ()
    assert detect([100.0, 120.0, 100.0, 120.0, 100.0]) == ()


def test_several_steps_in_a_long_history_are_all_found():
    history = noisy([(100, 60), (120, 60), (105, 60)], seed=1)
    assert [cp.index for cp in detect(history)] == [60, 120]


def test_change_points_are_judged_against_their_neighbours():
    cps = detect(noisy([(100, 20), (110, 20), (121, 20)], cv=0.005, seed=2))
    assert [cp.index for cp in cps] == [20, 40]
    assert cps[0].before == pytest.approx(100, rel=0.01)
    assert cps[0].after == pytest.approx(110, rel=0.01)
    assert cps[1].before == pytest.approx(110, rel=0.01)


def test_min_magnitude_drops_shifts_too_small_to_matter():
    history = noisy([(100, 20), (102, 20)], cv=0.002, seed=3)
    assert [cp.index for cp in detect(history)] == [20]
    assert detect(history, min_magnitude=0.05) == ()


def test_permutation_significance_finds_a_clear_step():
    (cp,) = detect(
        noisy([(100, 12), (110, 12)], seed=4), significance="permutation", permutations=99
    )
    assert cp.index == 12
    assert cp.p_value == pytest.approx(0.01)


def test_permutation_significance_is_reproducible_with_a_seed():
    history = noisy([(100, 10), (103, 10)], cv=0.02, seed=5)
    kwargs = dict(significance="permutation", permutations=49, max_pvalue=0.2, seed=1)
    assert detect(history, **kwargs) == detect(history, **kwargs)


def test_the_newest_runs_are_searched_even_past_the_first_window():
    history = noisy([(100, 70), (115, 10)], seed=6)
    assert [cp.index for cp in detect(history, window=50)] == [70]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="finite"):
        detect([1.0, float("nan"), 2.0])
    with pytest.raises(ValueError, match="min_size"):
        detect([1.0] * 10, min_size=1)
    with pytest.raises(ValueError, match="window"):
        detect([1.0] * 10, window=4)
    with pytest.raises(ValueError, match="significance"):
        detect([1.0] * 10, significance="bayes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pvalue"):
        detect([1.0] * 10, max_pvalue=0.0)
