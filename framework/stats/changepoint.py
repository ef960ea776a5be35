"""Change points in one metric's history across runs (one value per run, oldest first).

A single comparison against "the baseline" misses slow creep and mistakes one noisy run for a
regression; looking at the whole history finds *where* the level moved.  This is E-Divisive
means (Matteson & James 2014) with the adaptations of Hunter / Apache Otava (Fleming et al.
2023), written from the papers:

1. **Split.**  Within windows of ``window`` runs (half-overlapping), repeatedly cut the
   segment whose best split has the largest energy statistic

       Q(X, Y) = mn/(m+n) * (2/(mn) sum|X_i - Y_j| - sum_{i<k}|X_i - X_k| / C(n,2)
                                                    - sum_{j<k}|Y_j - Y_k| / C(m,2)),

   maximised over the split point and the end of Y, while the cut is significant at a relaxed
   threshold (10 x ``max_pvalue``): these are the "weak" change points.
2. **Merge.**  Over the whole history, drop the weakest change point -- largest p-value
   above ``max_pvalue``, or else smallest relative change below ``min_magnitude`` -- and
   recompute its neighbours (their segments just grew) until every point passes.

Significance is Hunter's two-sided Student t-test between the runs since the previous change
point and the runs up to the next one: deterministic and fine with a handful of points.
``significance="permutation"`` instead runs the original E-Divisive: a permutation test of the
largest Q (Matteson & James), without windows, at ``max_pvalue=0.01`` by default.

Example::

    >>> history = [100.0] * 12 + [110.0] * 12
    >>> [cp.index for cp in detect(history)]
    [12]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from framework.stats.distributions import t_sf

__all__ = ["ChangePoint", "detect"]

Significance = Literal["ttest", "permutation"]


@dataclass(frozen=True)
class ChangePoint:
    """A level shift in a history: run ``index`` is the first run after the change.

    ``before`` and ``after`` are the mean values of the runs between the neighbouring change
    points (or the ends of the history); ``relative_change`` is after / before - 1.  ``p_value``
    is the test that the two sides have the same mean, ``q_hat`` the energy statistic of the
    split (larger is a clearer split; it is in the metric's units).
    """

    index: int
    before: float
    after: float
    relative_change: float
    p_value: float
    q_hat: float


def _prefix(x: np.ndarray) -> np.ndarray:
    """2-D prefix sums of |x_i - x_j|, so any block of distances sums in O(1)."""
    distances = np.abs(x[:, None] - x[None, :])
    prefix = np.zeros((x.size + 1, x.size + 1))
    prefix[1:, 1:] = distances.cumsum(axis=0).cumsum(axis=1)
    return prefix


def _block(prefix: np.ndarray, r0, r1, c0, c1):  # type: ignore[no-untyped-def]
    """Sum of distances[r0:r1, c0:c1] (element-wise over arrays of bounds)."""
    return prefix[r1, c1] - prefix[r0, c1] - prefix[r1, c0] + prefix[r0, c0]


def _best_split(prefix: np.ndarray, start: int, stop: int, min_size: int) -> tuple[int, float]:
    """Best (tau, Q) for series[start:stop]: X = [start, tau), Y = [tau, kappa), kappa <= stop."""
    taus = np.arange(start + min_size, stop - min_size + 1)
    if taus.size == 0:
        return -1, -math.inf
    tau, kappa = np.meshgrid(taus, np.arange(start + 2 * min_size, stop + 1), indexing="ij")
    valid = kappa - tau >= min_size
    tau, kappa = tau[valid], kappa[valid]
    n, m = (tau - start).astype(float), (kappa - tau).astype(float)
    cross = _block(prefix, start, tau, tau, kappa)
    within_x = _block(prefix, start, tau, start, tau)  # ordered pairs, i.e. twice sum_{i<k}
    within_y = _block(prefix, tau, kappa, tau, kappa)
    energy = 2 * cross / (n * m) - within_x / (n * (n - 1)) - within_y / (m * (m - 1))
    q = n * m / (n + m) * energy
    best = int(np.argmax(q))
    return int(tau[best]), float(q[best])


def _ttest(left: np.ndarray, right: np.ndarray) -> float:
    """Two-sided Student t-test p-value for equal means (pooled variance, as Hunter uses)."""
    df = left.size + right.size - 2
    if df <= 0:
        return 1.0
    pooled = (np.sum((left - left.mean()) ** 2) + np.sum((right - right.mean()) ** 2)) / df
    diff = right.mean() - left.mean()
    if pooled <= 0:
        return 1.0 if diff == 0 else 0.0
    t = diff / math.sqrt(pooled * (1 / left.size + 1 / right.size))
    return float(2 * t_sf(abs(t), df))


def _describe(x: np.ndarray, bounds: list[int], i: int, q_hat: float) -> ChangePoint:
    """The change point at bounds[i], judged against its neighbours bounds[i-1], bounds[i+1]."""
    left, right = x[bounds[i - 1] : bounds[i]], x[bounds[i] : bounds[i + 1]]
    before, after = float(left.mean()), float(right.mean())
    change = after / before - 1 if before != 0 else math.inf
    return ChangePoint(bounds[i], before, after, change, _ttest(left, right), q_hat)


def _magnitude(cp: ChangePoint) -> float:
    """Relative size of the shift, the same whichever direction it is read in."""
    if cp.before == 0 or cp.after == 0:
        return math.inf
    return max(abs(cp.after / cp.before - 1), abs(cp.before / cp.after - 1))


def _split(
    x: np.ndarray,
    max_pvalue: float,
    min_size: int,
    significance: Significance,
    permutations: int,
    rng: np.random.Generator,
) -> dict[int, tuple[float, float]]:
    """E-Divisive on one window: {index: (q_hat, p_value)} of every significant cut."""
    prefix = _prefix(x)
    found: dict[int, tuple[float, float]] = {}
    while True:
        bounds = [0, *sorted(found), x.size]
        splits = [_best_split(prefix, a, b, min_size) for a, b in itertools.pairwise(bounds)]
        seg = int(np.argmax([q for _, q in splits]))
        tau, q = splits[seg]
        if tau < 0 or not q > 0:
            return found
        if significance == "ttest":
            p = _ttest(x[bounds[seg] : tau], x[tau : bounds[seg + 1]])
        else:
            p = _permutation_p(x, bounds, q, min_size, permutations, rng)
        if not p <= max_pvalue:
            return found
        found[tau] = (q, p)


def _permutation_p(
    x: np.ndarray,
    bounds: list[int],
    q_observed: float,
    min_size: int,
    permutations: int,
    rng: np.random.Generator,
) -> float:
    """Share of within-segment shuffles whose best Q reaches the observed one (M&J 2014)."""
    exceed = 0
    for _ in range(permutations):
        shuffled = np.concatenate([rng.permutation(x[a:b]) for a, b in itertools.pairwise(bounds)])
        prefix = _prefix(shuffled)
        q = max(_best_split(prefix, a, b, min_size)[1] for a, b in itertools.pairwise(bounds))
        exceed += q >= q_observed
    return (exceed + 1) / (permutations + 1)


def _merge(
    x: np.ndarray, weak: dict[int, float], max_pvalue: float, min_magnitude: float
) -> list[ChangePoint]:
    """Hunter's merge: drop the weakest change point until all are significant and large."""
    indexes = sorted(weak)
    while indexes:
        bounds = [0, *indexes, x.size]
        points = [_describe(x, bounds, i, weak[bounds[i]]) for i in range(1, len(bounds) - 1)]
        weakest = max(range(len(points)), key=lambda i: points[i].p_value)
        if not points[weakest].p_value > max_pvalue:
            weakest = min(range(len(points)), key=lambda i: _magnitude(points[i]))
            if _magnitude(points[weakest]) > min_magnitude:
                return points
        del indexes[weakest]
    return []


def detect(
    history: Sequence[float],
    *,
    max_pvalue: float | None = None,
    min_magnitude: float = 0.0,
    window: int = 50,
    min_size: int = 3,
    significance: Significance = "ttest",
    permutations: int = 199,
    seed: int | np.random.Generator | None = 0,
) -> tuple[ChangePoint, ...]:
    """Change points in ``history`` (one value per run, oldest first), in order of index.

    ``max_pvalue`` is the significance each reported change point must reach (default 0.001
    for the t-test, as in Hunter; 0.01 for the permutation test, whose p-values cannot go
    below 1 / (permutations + 1)).  ``min_magnitude`` (0.05 = 5%) drops shifts too small to
    matter.  ``window`` bounds the runs searched at once, which keeps the cost linear in the
    length of the history and keeps old change points from moving as runs are added.
    ``min_size`` is the fewest runs on either side of a change.  ``seed`` drives only the
    permutation test.
    """
    x = np.asarray(history, dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError("history must be a flat sequence of finite numbers")
    if min_size < 2:
        raise ValueError(f"min_size must be >= 2, got {min_size!r}")
    if window < 2 * min_size:
        raise ValueError(f"window must be >= 2 * min_size = {2 * min_size}, got {window!r}")
    if significance not in ("ttest", "permutation"):
        raise ValueError(f"significance must be 'ttest' or 'permutation', got {significance!r}")
    if max_pvalue is None:
        max_pvalue = 0.001 if significance == "ttest" else 0.01
    if not 0 < max_pvalue <= 1:
        raise ValueError(f"max_pvalue must be in (0, 1], got {max_pvalue!r}")
    if x.size < 2 * min_size:
        return ()
    rng = np.random.default_rng(seed)
    if significance == "permutation":
        found = _split(x, max_pvalue, min_size, significance, permutations, rng)
        kept = _merge(x, {i: q for i, (q, _) in found.items()}, math.inf, min_magnitude)
        return tuple(replace(cp, p_value=found[cp.index][1]) for cp in kept)

    relaxed = max_pvalue * 10 if max_pvalue < 0.05 else min(max_pvalue * 2, 1.0)
    weak: dict[int, float] = {}
    start, step = 0, max(window // 2, 1)
    while True:
        stop = min(start + window, x.size)
        found = _split(x[start:stop], relaxed, min_size, significance, permutations, rng)
        for index, (q, _) in found.items():
            weak.setdefault(index + start, q)
        if stop == x.size:
            break
        # Next window starts after the last cut found, or half a window on, but never runs
        # past the end: the last window always ends at the newest run.
        start = min(max(start + max(found, default=0), start + step), x.size - window)
    return tuple(_merge(x, weak, max_pvalue, min_magnitude))
