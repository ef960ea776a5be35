"""Unit tests of framework.stats.block_length on series whose correlation length is known."""

from __future__ import annotations

import numpy as np
import pytest

from framework.stats.block_length import block_length


def test_block_length_of_independent_noise_is_short():
    x = np.random.default_rng(5).standard_normal(2000)
    assert 1.0 <= block_length(x) <= 4.0


def test_block_length_of_ar1_matches_theory():
    # AR(1) phi = 0.5: G = 4 gamma0, g = 3 gamma0, so b = (2 G^2 / (4/3 g^2))^(1/3) n^(1/3).
    rng = np.random.default_rng(6)
    n = 20_000
    x = np.zeros(n)
    e = rng.standard_normal(n)
    for t in range(1, n):
        x[t] = 0.5 * x[t - 1] + e[t]
    theory = (2 * 16 / (4 / 3 * 9)) ** (1 / 3) * n ** (1 / 3)
    assert block_length(x) == pytest.approx(theory, rel=0.35)


def test_block_length_of_degenerate_series_is_one():
    assert block_length([5.0] * 100) == 1.0
    assert block_length([1.0, 2.0]) == 1.0
