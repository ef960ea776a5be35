"""The USL fit: recovery of known parameters and peak, honest intervals, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from framework.stats.usl import fit_usl, usl_throughput

LAM, SIGMA, KAPPA = 100.0, 0.05, 0.002
TRUE_PEAK = math.sqrt((1 - SIGMA) / KAPPA)  # 21.8
TRUE_PEAK_X = float(usl_throughput(TRUE_PEAK, LAM, SIGMA, KAPPA))
LOADS = np.array([1, 2, 4, 8, 12, 16, 24, 32, 40], dtype=float)


def noisy(seed: int, relative_se: float = 0.03, loads: np.ndarray = LOADS):
    """Throughput on the known curve with normal noise, and its 95% intervals."""
    rng = np.random.default_rng(seed)
    truth = usl_throughput(loads, LAM, SIGMA, KAPPA)
    se = relative_se * truth
    measured = truth + se * rng.standard_normal(len(loads))
    return measured, [(x - 1.96 * s, x + 1.96 * s) for x, s in zip(measured, se, strict=True)]


def inside(value: float, ci: tuple[float, float] | None) -> bool:
    return ci is not None and ci[0] <= value <= ci[1]


def test_noiseless_data_give_back_the_parameters_and_the_peak():
    fit = fit_usl(LOADS, usl_throughput(LOADS, LAM, SIGMA, KAPPA))
    assert fit.lam == pytest.approx(LAM, rel=1e-6)
    assert fit.sigma == pytest.approx(SIGMA, rel=1e-5)
    assert fit.kappa == pytest.approx(KAPPA, rel=1e-5)
    assert fit.peak_load == pytest.approx(TRUE_PEAK, rel=1e-5)
    assert fit.peak_throughput == pytest.approx(TRUE_PEAK_X, rel=1e-6)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.points == 9 and fit.max_load == 40


def test_weighted_fit_recovers_every_parameter_and_the_peak_within_its_intervals():
    measured, intervals = noisy(seed=1)
    fit = fit_usl(LOADS, measured, intervals)
    assert inside(LAM, fit.lam_ci)
    assert inside(SIGMA, fit.sigma_ci)
    assert inside(KAPPA, fit.kappa_ci)
    assert inside(TRUE_PEAK, fit.peak_load_ci)
    assert inside(TRUE_PEAK_X, fit.peak_throughput_ci)
    assert fit.peak_load_ci[0] < fit.peak_load < fit.peak_load_ci[1]
    # intervals mean something: the peak is known to within a few users, not any number
    assert fit.peak_load_ci[1] - fit.peak_load_ci[0] < 0.5 * TRUE_PEAK
    assert fit.r2 > 0.99


def test_unweighted_fit_judges_the_noise_by_the_residuals():
    measured, _ = noisy(seed=2)
    fit = fit_usl(LOADS, measured)
    assert inside(KAPPA, fit.kappa_ci)
    assert inside(TRUE_PEAK, fit.peak_load_ci)
    assert inside(TRUE_PEAK_X, fit.peak_throughput_ci)


def test_intervals_cover_the_truth_in_most_repeated_experiments():
    """Coverage of the peak's nominal 95% intervals over 20 seeded experiments: at least
    17 (a 95% interval missing 4 of 20 has a chance under 2%)."""
    covered_load = covered_x = 0
    for seed in range(100, 120):
        measured, intervals = noisy(seed)
        fit = fit_usl(LOADS, measured, intervals)
        covered_load += inside(TRUE_PEAK, fit.peak_load_ci)
        covered_x += inside(TRUE_PEAK_X, fit.peak_throughput_ci)
    assert covered_load >= 17
    assert covered_x >= 17


def test_a_misfit_wider_than_the_intervals_widens_the_fits_intervals():
    """Steps scattered 5× more than their intervals claim: the reduced chi-square inflates
    the noise, so the parameters' intervals are wider than the claimed intervals give."""
    measured, _ = noisy(seed=3, relative_se=0.05)
    truth = usl_throughput(LOADS, LAM, SIGMA, KAPPA)
    pairs = list(zip(measured, truth, strict=True))
    claimed = [(x - 1.96 * 0.01 * t, x + 1.96 * 0.01 * t) for x, t in pairs]
    honest = [(x - 1.96 * 0.05 * t, x + 1.96 * 0.05 * t) for x, t in pairs]
    narrow, wide = fit_usl(LOADS, measured, claimed), fit_usl(LOADS, measured, honest)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(narrow.kappa_ci) > 0.5 * width(wide.kappa_ci)


def test_no_coherency_delay_means_no_peak_and_a_ceiling():
    loads = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    fit = fit_usl(loads, usl_throughput(loads, 50.0, 0.1, 0.0))
    assert fit.kappa == pytest.approx(0.0, abs=1e-9)
    assert fit.peak_load is None and fit.peak_load_ci is None
    assert fit.peak_throughput is None and fit.peak_throughput_ci is None
    assert fit.ceiling == pytest.approx(500.0, rel=1e-3)


def test_a_peak_beyond_the_steps_is_unbounded_above_when_the_data_cannot_place_it():
    """Only the rising part measured, noisily: the data cannot rule out no peak at all."""
    loads = np.array([1, 2, 3, 4, 5], dtype=float)
    rng = np.random.default_rng(7)
    truth = usl_throughput(loads, 100.0, 0.02, 0.0005)
    measured = truth * (1 + 0.03 * rng.standard_normal(len(loads)))
    fit = fit_usl(loads, measured, [(x * 0.94, x * 1.06) for x in measured])
    if fit.peak_load is not None:
        assert fit.peak_load_ci is not None and fit.peak_load_ci[1] == math.inf
    assert fit.kappa_ci[0] == 0.0  # no coherency delay at all is among the refits


def test_the_same_data_give_the_same_intervals_every_time():
    measured, intervals = noisy(seed=4)
    assert fit_usl(LOADS, measured, intervals) == fit_usl(LOADS, measured, intervals)


def test_throughput_at_is_the_fitted_curve():
    fit = fit_usl(LOADS, usl_throughput(LOADS, LAM, SIGMA, KAPPA))
    assert fit.throughput_at(1) == pytest.approx(LAM, rel=1e-6)
    assert fit.throughput_at(30) == pytest.approx(float(usl_throughput(30, LAM, SIGMA, KAPPA)))


@pytest.mark.parametrize(
    ("load", "throughput", "intervals", "message"),
    [
        ([1, 2], [10, 20], None, "at least 3 steps, got 2"),
        ([1, 2, 3], [10, 20, 25], None, "without throughput intervals needs at least 4"),
        ([5, 5, 10, 10], [10, 11, 20, 21], None, "at least 3 different loads, got 2"),
        ([1, 2, 3, 4], [10, 0, 25, 30], None, "positive finite number, got 0.0"),
        ([1, 2, 3, 4], [10, float("nan"), 25, 30], None, "positive finite number, got nan"),
        ([0, 2, 3, 4], [10, 20, 25, 30], None, "every load must be a positive"),
        ([1, 2, 3, 4], [10, 20, 25], None, "4 loads but 3 throughputs"),
        ([1, 2, 3], [10, 20, 25], [(9, 11), (19, 21)], "2 throughput intervals for 3"),
        ([1, 2, 3], [10, 20, 25], [(9, 11), (21, 19), (24, 26)], "interval 2 must be finite"),
        ([1, 2, 3], [10, 20, 25], [(9, 11), None, (24, 26)], "interval 2 must be (low, high)"),
        ([1, 2, 3], ["a", 20, 25], None, "throughput must be numbers"),
    ],
)
def test_data_no_fit_can_rest_on_raise_a_clear_value_error(load, throughput, intervals, message):
    with pytest.raises(ValueError, match=None) as caught:
        fit_usl(load, throughput, intervals)
    assert message in str(caught.value)


def test_a_confidence_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        fit_usl(LOADS, usl_throughput(LOADS, LAM, SIGMA, KAPPA), confidence=95)


def test_a_step_whose_load_is_barely_known_weighs_little():
    """An open run's concurrency is measured: one step's load off by 3× with a wide
    interval, the rest exact. Through the curve's slope its error widens its weight, so
    the fit still finds the true curve; ignoring the load's error, it does not."""
    loads = LOADS.copy()
    truth = usl_throughput(loads, LAM, SIGMA, KAPPA)
    intervals = [(x * 0.99, x * 1.01) for x in truth]
    measured_loads = loads.copy()
    measured_loads[1] = 6.0  # truly 2
    load_ci = [(n * 0.99, n * 1.01) for n in measured_loads]
    load_ci[1] = (0.5, 11.5)
    weighted = fit_usl(measured_loads, truth, intervals, load_ci=load_ci)
    ignored = fit_usl(measured_loads, truth, intervals)
    assert weighted.peak_load == pytest.approx(TRUE_PEAK, rel=0.05)
    assert abs(ignored.peak_load - TRUE_PEAK) > abs(weighted.peak_load - TRUE_PEAK)


def test_a_bad_load_interval_is_named_as_a_load_interval():
    with pytest.raises(ValueError, match="load interval 2 must be finite"):
        fit_usl([1, 2, 3], [10, 20, 25], [(9, 11)] * 3, load_ci=[(1, 1), (3, 1), (3, 3)])
