"""The t and beta distribution functions the statistics need, straight from scipy.special.

``scipy.stats`` gives the same values (its ``t.ppf`` is ``special.stdtrit``, its
``beta.ppf`` agrees with ``special.betaincinv``) but takes about a second to import: a
fifth of ``swarm report`` on an hour-long run. Arguments are in the order ``scipy.stats``
uses (value first, then the parameters).
"""

from __future__ import annotations

from scipy import special

__all__ = ["beta_quantile", "t_cdf", "t_quantile", "t_sf"]


def t_quantile(q: float, df: float) -> float:
    """Student's t quantile: ``scipy.stats.t.ppf(q, df)``."""
    return float(special.stdtrit(df, q))


def t_cdf(x: float, df: float) -> float:
    """Student's t distribution function: ``scipy.stats.t.cdf(x, df)``."""
    return float(special.stdtr(df, x))


def t_sf(x: float, df: float) -> float:
    """Student's t survival function, ``1 - t_cdf(x, df)`` without the cancellation."""
    return float(special.stdtr(df, -x))


def beta_quantile(q: float, a: float, b: float) -> float:
    """Beta quantile: ``scipy.stats.beta.ppf(q, a, b)``."""
    return float(special.betaincinv(a, b, q))
