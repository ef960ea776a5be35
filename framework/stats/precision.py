"""Planning runs: how small a change a run can detect, and how long a run must be.

Both answers follow from an estimate's standard error, and both are what a person asks
before trusting (or re-running) a comparison: "could this run have seen a 5% regression?"
and "how long must it run for a +/-2% interval?".
"""

from __future__ import annotations

import math
import sys

from framework.stats.distributions import t_quantile
from framework.stats.estimators import Estimate

__all__ = ["minimum_detectable_change", "required_duration_s"]

_LARGEST_EXPONENT = math.log(sys.float_info.max)  # expm1 overflows beyond it


def minimum_detectable_change(
    est: Estimate, *, confidence: float = 0.95, power: float = 0.8
) -> float:
    """Smallest relative change (0.12 = 12%) that :func:`compare` against an equally precise
    baseline detects with probability ``power``.

    On the log scale the difference of two such runs has standard error sqrt(2) * se/value and
    about 2 * (batches - 1) degrees of freedom; the change must exceed
    (t_{1-alpha/2} + t_{power}) standard errors.  ``inf`` when the estimate has no interval,
    or one so wide against its value (a p95 of a few µs among seconds-long outliers) that
    the change would overflow a float.
    """
    if not (est.value > 0 and math.isfinite(est.se)):
        return math.inf
    df = max(2 * (est.batches - 1), 1)
    z = t_quantile(0.5 + confidence / 2, df) + t_quantile(power, df)
    exponent = z * math.sqrt(2) * est.se / est.value
    return math.expm1(exponent) if exponent < _LARGEST_EXPONENT else math.inf


def required_duration_s(
    est: Estimate, duration_s: float, target_relative_half_width: float
) -> float:
    """Run length (s) at which this estimate's relative half-width would reach the target.

    Half-width shrinks as 1/sqrt(duration) once batches are long compared with the correlation
    time, so the run must be (current / target)^2 times as long.  ``duration_s`` is the length
    of the run the estimate came from.
    """
    if not target_relative_half_width > 0:
        raise ValueError(f"target must be > 0, got {target_relative_half_width!r}")
    current = est.relative_half_width
    if not math.isfinite(current):
        return math.inf
    return duration_s * (current / target_relative_half_width) ** 2
