"""Gunther's Universal Scalability Law fitted to throughput against load, with intervals.

The USL models the throughput ``X`` of a system at concurrency ``N`` as::

    X(N) = lam·N / (1 + sigma·(N − 1) + kappa·N·(N − 1))

``lam`` is the throughput of one unit of load alone (requests/s at N = 1), ``sigma`` the
contention (the serial share: queueing on a shared resource, 0 ≤ sigma ≤ 1) and ``kappa``
the coherency delay (the cost of keeping shared state consistent, which grows with the pairs
of workers and makes throughput *fall* past a peak). With ``kappa > 0`` throughput peaks at
``N* = sqrt((1 − sigma) / kappa)``; with ``kappa = 0`` it only flattens towards ``lam/sigma``.

Fit: weighted non-linear least squares (``scipy.optimize.least_squares``, trust-region
reflective, bounds ``lam > 0``, ``0 ≤ sigma ≤ 1``, ``kappa ≥ 0``), each step weighted by
its throughput's standard error (half its interval over the normal quantile), started from
the linearised fit ``N/X = a + b·(N − 1) + c·N·(N − 1)``, which is exact for noiseless data.

Intervals: a **parametric bootstrap** with a fixed seed, not the covariance matrix. The
covariance (Jacobian) intervals are symmetric and linear, but the quantities a person asks
for are neither: ``sigma`` and ``kappa`` often sit on their bound 0 (a symmetric interval
would reach below it), and the peak ``N*`` is a ratio that runs off to infinity as ``kappa``
nears 0, so its delta-method interval is wrong exactly when it matters (a peak beyond the
measured loads). The bootstrap refits ``BOOTSTRAP_FITS`` data sets drawn from the fitted
curve with each step's own noise (its standard error, inflated by the misfit when the steps
scatter more than their intervals say: the reduced chi-square, as ``curve_fit`` does without
``absolute_sigma``) and reads every interval off the refits' percentiles, so intervals
respect the bounds and a peak that might not exist gets an unbounded upper end (``inf``).
The seed is fixed so that ``swarm report`` gives the same intervals every time it is run.

Pure function of its inputs: no clock, no file, no Locust (``scipy.optimize`` is imported
only when a fit is asked for: it costs ~0.13 s, paid only by stepped runs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["BOOTSTRAP_FITS", "BOOTSTRAP_SEED", "UslFit", "fit_usl", "usl_throughput"]

BOOTSTRAP_FITS = 200
"""Refits behind every interval: enough for the 2.5 % and 97.5 % percentiles to move by
less than a few percent of the interval between seeds, few enough to keep a fit of 20 steps
well under a second."""

BOOTSTRAP_SEED = 20160516
"""Fixed, so that a report recomputed from the same run gives the same intervals."""

_MIN_POINTS = 3
_NEGLIGIBLE = 1e-9  # kappa·N(N−1) below this share of the denominator: no coherency term


def usl_throughput(n: float | np.ndarray, lam: float, sigma: float, kappa: float) -> np.ndarray:
    """The USL's throughput at load ``n`` (any array shape) for the given parameters."""
    n = np.asarray(n, dtype=float)
    return lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


@dataclass(frozen=True)
class UslFit:
    """A USL fit: the parameters, the predicted peak, and every one with its interval.

    ``X(N) = lam·N / (1 + sigma·(N − 1) + kappa·N·(N − 1))``. Intervals are
    ``(low, high)`` at ``confidence``; a ``high`` of ``inf`` means the data do not bound it
    (the peak may lie anywhere beyond the measured loads, or there may be none).
    ``peak_load`` is ``N* = sqrt((1 − sigma)/kappa)`` and ``peak_throughput = X(N*)``;
    both ``None`` when the fitted ``kappa`` is 0 (throughput only levels off, towards
    ``lam/sigma``). ``r2`` is the share of the throughput's variance across the steps the
    curve explains (1 − SSres/SStot, unweighted); ``points`` the steps fitted.

    >>> fit = fit_usl([1, 2, 4, 8, 16], [100, 190, 340, 500, 520])
    >>> round(fit.throughput_at(1))
    102
    """

    lam: float
    sigma: float
    kappa: float
    lam_ci: tuple[float, float]
    sigma_ci: tuple[float, float]
    kappa_ci: tuple[float, float]
    peak_load: float | None
    peak_load_ci: tuple[float, float] | None
    peak_throughput: float | None
    peak_throughput_ci: tuple[float, float] | None
    r2: float
    points: int
    confidence: float = 0.95
    max_load: float = 0.0
    """The highest load fitted: a peak beyond it is an extrapolation."""

    def throughput_at(self, n: float) -> float:
        """The fitted throughput at load ``n``."""
        return float(usl_throughput(n, self.lam, self.sigma, self.kappa))

    @property
    def ceiling(self) -> float | None:
        """``lam/sigma``: the throughput the curve would level off at without coherency
        delay (``None`` when ``sigma`` is 0: no ceiling at all)."""
        return self.lam / self.sigma if self.sigma > 0 else None


def fit_usl(
    load: Sequence[float],
    throughput: Sequence[float],
    throughput_ci: Sequence[tuple[float, float]] | None = None,
    *,
    confidence: float = 0.95,
    load_ci: Sequence[tuple[float, float]] | None = None,
) -> UslFit:
    """Fit the USL to measured ``throughput`` (requests/s) at each ``load`` (users, or the
    concurrency of an open run), weighted by ``throughput_ci`` (each step's interval at
    ``confidence``) when given. ``load_ci`` (each load's interval, for a load that is
    itself measured: an open run's concurrency) adds the load's error through the curve's
    slope (the effective-variance method: ``se² = se_X² + (dX/dN · se_N)²``, the slope from
    a first fit, then refitted), so a step whose load is barely known weighs little.

    Raises ``ValueError`` with the reason on data no fit can rest on: fewer than 3 points
    (4 without intervals: 3 parameters leave no spread to judge the noise by), fewer than 3
    distinct loads, lengths that differ, a load or throughput that is not a positive finite
    number, an interval that is not finite or whose low exceeds its high.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    n_arr, x_arr = _checked(load, "load"), _checked(throughput, "throughput")
    if len(n_arr) != len(x_arr):
        raise ValueError(f"{len(n_arr)} loads but {len(x_arr)} throughputs: give one per step")
    points = len(n_arr)
    if points < _MIN_POINTS:
        raise ValueError(f"a USL fit needs at least {_MIN_POINTS} steps, got {points}")
    if len(np.unique(n_arr)) < _MIN_POINTS:
        raise ValueError(
            f"a USL fit needs at least {_MIN_POINTS} different loads, got "
            f"{len(np.unique(n_arr))} ({', '.join(f'{v:g}' for v in np.unique(n_arr))})"
        )
    z = float(special.ndtri(0.5 + confidence / 2))
    if throughput_ci is None:
        if points <= _MIN_POINTS:
            raise ValueError(
                f"a USL fit without throughput intervals needs at least {_MIN_POINTS + 1} "
                f"steps (3 parameters leave no spread to judge the noise by), got {points}"
            )
        se = None
    else:
        se = _standard_errors(throughput_ci, x_arr, z)
    weights = np.ones(points) if se is None else 1.0 / se
    params = _fit(n_arr, x_arr, weights, _start(n_arr, x_arr, weights))
    if load_ci is not None:
        se_load = _standard_errors(load_ci, n_arr, z, "load")
        base = se if se is not None else np.full(points, _residual_se(n_arr, x_arr, params))
        for _ in range(2):
            se = np.hypot(base, _slope(n_arr, *params) * se_load)
            weights = 1.0 / se
            params = _fit(n_arr, x_arr, weights, params)
    fitted = usl_throughput(n_arr, *params)
    residuals = x_arr - fitted
    dof = points - 3
    if se is None:
        noise = np.full(points, math.sqrt(float(residuals @ residuals) / dof))
    else:
        chi2 = float(((residuals / se) ** 2).sum())
        scale = math.sqrt(chi2 / dof) if dof > 0 else 1.0
        noise = se * max(1.0, scale)
    boot = _bootstrap(n_arr, fitted, noise, weights, params)
    alpha = 1 - confidence
    lam, sigma, kappa = params
    peak_n, peak_x = _peak(lam, sigma, kappa, float(n_arr.max()))
    boot_peak = np.array([_peak(*p, float(n_arr.max()), bounded=True) for p in boot])
    total = float(((x_arr - x_arr.mean()) ** 2).sum())
    r2 = 1.0 - float(residuals @ residuals) / total if total > 0 else 0.0
    return UslFit(
        lam=float(lam),
        sigma=float(sigma),
        kappa=float(kappa),
        lam_ci=_percentiles(boot[:, 0], alpha),
        sigma_ci=_percentiles(boot[:, 1], alpha),
        kappa_ci=_percentiles(boot[:, 2], alpha),
        peak_load=peak_n,
        peak_load_ci=None if peak_n is None else _percentiles(boot_peak[:, 0], alpha),
        peak_throughput=peak_x,
        peak_throughput_ci=None if peak_x is None else _percentiles(boot_peak[:, 1], alpha),
        r2=r2,
        points=points,
        confidence=confidence,
        max_load=float(n_arr.max()),
    )


def _slope(n: np.ndarray, lam: float, sigma: float, kappa: float) -> np.ndarray:
    """dX/dN of the curve at each load."""
    denominator = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
    derivative = sigma + kappa * (2.0 * n - 1.0)
    return lam * (denominator - n * derivative) / denominator**2


def _residual_se(n: np.ndarray, x: np.ndarray, params: np.ndarray) -> float:
    residuals = x - usl_throughput(n, *params)
    return math.sqrt(float(residuals @ residuals) / max(len(n) - 3, 1))


def _checked(values: Sequence[float], what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers, got {values!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat list of numbers, got shape {arr.shape}")
    bad = [f"{float(v)!r}" for v in arr if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ValueError(
            f"every {what} must be a positive finite number, got {', '.join(bad[:3])}"
            + (" (a step with no throughput cannot be fitted)" if what == "throughput" else "")
        )
    return arr


def _standard_errors(
    intervals: Sequence[tuple[float, float]], x: np.ndarray, z: float, what: str = "throughput"
) -> np.ndarray:
    """Each step's standard error from its interval; a zero-width interval is floored at a
    millionth of the largest throughput so it weighs heavily but never infinitely."""
    if len(intervals) != len(x):
        raise ValueError(f"{len(intervals)} {what} intervals for {len(x)} {what}s")
    se = []
    for i, pair in enumerate(intervals):
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"{what} interval {i + 1} must be (low, high), got {pair!r}") from None
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(
                f"{what} interval {i + 1} must be finite with low <= high, got {pair!r}"
            )
        se.append((high - low) / 2 / z)
    return np.maximum(np.asarray(se), 1e-6 * float(x.max()))


def _start(n: np.ndarray, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The linearised fit ``N/X = a + b(N−1) + cN(N−1)`` (weighted likewise: the error of
    N/X is about N·se/X²), clipped into the bounds: a start the solver rarely moves far."""
    design = np.column_stack([np.ones_like(n), n - 1, n * (n - 1)])
    w = weights * x**2 / n
    coef, *_ = np.linalg.lstsq(design * w[:, None], n / x * w, rcond=None)
    a, b, c = coef
    if a <= 0:
        a = float(n[0] / x[0])
    lam = 1.0 / a
    sigma = min(max(b / a, 0.0), 1.0)
    kappa = max(c / a, 0.0)
    return np.array([lam, sigma, kappa])


def _fit(n: np.ndarray, x: np.ndarray, weights: np.ndarray, start: np.ndarray) -> np.ndarray:
    from scipy.optimize import least_squares  # ~0.13 s to import: only when fitting

    # kappa is tiny next to lam: solve for kappa·N_max² so every parameter is O(1)…O(X)
    k_scale = float(n.max()) ** 2

    pairs = n * (n - 1.0)

    def residuals(p: np.ndarray) -> np.ndarray:
        return (usl_throughput(n, p[0], p[1], p[2] / k_scale) - x) * weights

    def jacobian(p: np.ndarray) -> np.ndarray:
        denominator = 1.0 + p[1] * (n - 1.0) + p[2] / k_scale * pairs
        slope = -p[0] * n / denominator**2
        columns = (n / denominator, slope * (n - 1.0), slope * pairs / k_scale)
        return np.column_stack(columns) * weights[:, None]

    lower, upper = [1e-12, 0.0, 0.0], [np.inf, 1.0, np.inf]
    guess = np.clip(start * [1.0, 1.0, k_scale], lower, upper)
    result = least_squares(
        residuals, guess, jac=jacobian, bounds=(lower, upper), method="trf", x_scale="jac"
    )
    lam, sigma, kappa = result.x
    # the solver stops a hair inside a bound; a parameter at 0 is reported as 0
    sigma = 0.0 if sigma < 1e-12 else sigma
    kappa = 0.0 if kappa < 1e-12 else kappa
    return np.array([lam, sigma, kappa / k_scale])


def _bootstrap(
    n: np.ndarray, fitted: np.ndarray, noise: np.ndarray, weights: np.ndarray, params: np.ndarray
) -> np.ndarray:
    """``BOOTSTRAP_FITS`` refits of data drawn around the fitted curve, each from the fit."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = fitted + noise * rng.standard_normal((BOOTSTRAP_FITS, len(n)))
    draws = np.maximum(draws, 1e-9 * float(fitted.max()))
    return np.array([_fit(n, x, weights, params) for x in draws])


def _peak(
    lam: float, sigma: float, kappa: float, max_load: float, *, bounded: bool = False
) -> tuple[float | None, float | None]:
    """``(N*, X(N*))``; ``None`` when kappa is 0 (or negligible against the measured loads).

    ``bounded`` (for bootstrap refits): a refit without a peak gives ``inf`` for the load
    and its ceiling ``lam/sigma`` for the throughput, the highest it could ever reach, so
    the percentiles still read right.
    """
    denominator = 1.0 + sigma * (max_load - 1.0)
    if kappa <= 0 or kappa * max_load * (max_load - 1.0) < _NEGLIGIBLE * denominator:
        if not bounded:
            return None, None
        return math.inf, (lam / sigma if sigma > 0 else math.inf)
    peak = math.sqrt(max(1.0 - sigma, 0.0) / kappa)
    peak = max(peak, 1.0)
    return peak, float(usl_throughput(peak, lam, sigma, kappa))


def _percentiles(values: np.ndarray, alpha: float) -> tuple[float, float]:
    """The ``alpha/2`` and ``1 − alpha/2`` order statistics (no interpolation, so an
    ``inf`` among the refits yields ``inf``, never ``nan``)."""
    ordered = np.sort(values)
    count = len(ordered)
    low = ordered[max(0, math.floor(alpha / 2 * count))]
    high = ordered[min(count - 1, math.ceil((1 - alpha / 2) * count) - 1)]
    return float(low), float(high)
