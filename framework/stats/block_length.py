"""The Politis-White block length: how long a per-interval series stays correlated.

One number, in intervals, drives three decisions: the block length of the circular block
bootstrap, whether batches are long enough to be nearly independent (``DEPENDENCE_RATIO``
block lengths each), and the effective sample size.  It depends on nothing but the series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["block_length", "detection_threshold", "undetected_block_length"]


def block_length(series: Sequence[float] | np.ndarray) -> float:
    """Politis-White automatic block length (in intervals) for the circular block bootstrap.

    It is the correlation length that matters for a time-series mean: it estimates the long-run
    variance g and G = sum |k| gamma(k) with a flat-top lag window whose bandwidth comes from the
    first run of K_n insignificant autocorrelations (Politis & White 2004), then returns
    (2 G^2 / D)^(1/3) n^(1/3) with D = 4/3 g^2 (the Patton, Politis & White 2009 correction),
    clipped to [1, min(3 sqrt(n), n/3)].  An iid series gives about 1-3.

    >>> block_length([1.0, 2.0, 1.0, 2.0]) >= 1
    True
    """
    x = np.asarray(series, dtype=float)
    n = x.size
    if n < 4:
        return 1.0
    e = x - x.mean()
    gamma0 = float(e @ e) / n
    if gamma0 <= 1e-300:
        return 1.0
    k_n = max(5, math.ceil(math.sqrt(math.log10(n))))
    m_max = min(math.ceil(math.sqrt(n)) + k_n, n - 1)
    b_max = math.ceil(min(3 * math.sqrt(n), n / 3))
    acov = np.array([e[k:] @ e[: n - k] / n for k in range(m_max + 1)])
    rho = np.abs(acov / gamma0)
    threshold = detection_threshold(n)
    m_hat = m_max
    for m in range(m_max - k_n + 1):
        if np.all(rho[m + 1 : m + k_n + 1] < threshold):
            m_hat = m
            break
    big_m = min(2 * max(m_hat, 1), m_max)
    lags = np.arange(1, big_m + 1)
    t = lags / big_m
    flat_top = np.where(t <= 0.5, 1.0, 2 * (1 - t))
    g = gamma0 + 2 * np.sum(flat_top * acov[1 : big_m + 1])
    big_g = 2 * np.sum(flat_top * lags * acov[1 : big_m + 1])
    if g <= 0:
        return 1.0
    d_cb = 4 / 3 * g**2
    b = (2 * big_g**2 / d_cb) ** (1 / 3) * n ** (1 / 3)
    return float(min(max(b, 1.0), b_max))


def detection_threshold(n: int) -> float:
    """The smallest autocorrelation the block length counts as significant in ``n`` values:
    2 sqrt(log10(n) / n) (Politis & White), 0.34 for a 60-interval run.

    >>> round(detection_threshold(60), 2)
    0.34
    """
    return 2 * math.sqrt(math.log10(n) / n) if n > 1 else 1.0


def undetected_block_length(n: int) -> float:
    """The block length (in intervals) of a series that ``n`` intervals cannot tell from an
    independent one: an AR(1) whose lag-one correlation sits just at ``detection_threshold``.

    :func:`block_length` of such a series often comes out at or near its floor of 1, yet
    its true block length is this, (6 r^2 / (1 - r^2)^2)^(1/3) n^(1/3) with r the threshold
    (the Politis-White formula for AR(1)): about 4 intervals for any run from 30 intervals
    to an hour. A short run's low estimate is therefore no evidence that it is independent.

    >>> round(undetected_block_length(60), 1)
    3.8
    """
    r = min(detection_threshold(n), 0.99)
    return float((6 * r**2 / (1 - r**2) ** 2) ** (1 / 3) * n ** (1 / 3))
