"""Latency models: settings in, a sampler of milliseconds out.

Each model is a frozen pydantic value (validated once, when the config loads) and
``make_sampler`` turns one into a ``Callable[[], float]`` bound to a ``random.Random``.
Samplers are pure apart from that generator, so a seeded detector replays the same
latencies in the same order, and tests can check each model against its
distribution without starting a server.

    >>> import random
    >>> sample = make_sampler(FixedLatency(ms=50), random.Random(1))
    >>> sample()
    50.0

Why ``random.Random`` and not numpy: one draw per request from the stdlib generator
costs tens of nanoseconds, while a numpy scalar draw costs about a microsecond.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from framework.scenario.fields import NOT_BOOL, OnePassModel

__all__ = [
    "Z95",
    "EmpiricalLatency",
    "ExponentialLatency",
    "FixedLatency",
    "LatencyModel",
    "LognormalLatency",
    "NormalLatency",
    "Sampler",
    "UniformLatency",
    "describe",
    "lognormal_parameters",
    "make_sampler",
]

Sampler = Callable[[], float]
"""Returns one latency in milliseconds, always >= 0."""

Z95 = 1.6448536269514722
"""The standard normal quantile at 0.95: p95 = median * exp(Z95 * sigma) for a lognormal."""

_NonNegativeMs = Annotated[float, Field(ge=0, le=3_600_000), NOT_BOOL]
_PositiveMs = Annotated[float, Field(gt=0, le=3_600_000), NOT_BOOL]


class _Model(OnePassModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FixedLatency(_Model):
    """Always ``ms``: the reference for measuring a client's own overhead."""

    model: Literal["fixed"] = "fixed"
    ms: _NonNegativeMs


class UniformLatency(_Model):
    """Uniform between ``min_ms`` and ``max_ms`` inclusive."""

    model: Literal["uniform"] = "uniform"
    min_ms: _NonNegativeMs
    max_ms: _NonNegativeMs

    relation_fields: ClassVar[tuple[str, ...]] = ("min_ms", "max_ms")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"min_ms", "max_ms"} <= values.keys() and values["max_ms"] < values["min_ms"]:
            yield (
                "max_ms",
                f"max_ms ({values['max_ms']}) must be >= min_ms ({values['min_ms']})",
            )


class NormalLatency(_Model):
    """Normal with ``mean_ms`` and ``stddev_ms``; draws below ``min_ms`` are drawn again.

    Redrawing (rather than clipping) keeps the distribution a truncated normal with no
    spike at the floor; with the mean several deviations above the floor it is
    indistinguishable from the untruncated one.
    """

    model: Literal["normal"] = "normal"
    mean_ms: _NonNegativeMs
    stddev_ms: _NonNegativeMs
    min_ms: _NonNegativeMs = 0.0

    relation_fields: ClassVar[tuple[str, ...]] = ("mean_ms", "stddev_ms", "min_ms")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        # Redrawing stalls if the floor is far above the mean; 3 deviations keeps the
        # acceptance probability above 0.1 %.
        if set(cls.relation_fields) <= values.keys():
            reach = values["mean_ms"] + 3 * values["stddev_ms"]
            if values["min_ms"] > reach:
                yield (
                    "min_ms",
                    f"min_ms ({values['min_ms']}) must be <= mean_ms + 3 * stddev_ms ({reach})",
                )


class LognormalLatency(_Model):
    """Lognormal given by its median and 95th percentile, the figures people know."""

    model: Literal["lognormal"] = "lognormal"
    median_ms: _PositiveMs
    p95_ms: _PositiveMs

    relation_fields: ClassVar[tuple[str, ...]] = ("median_ms", "p95_ms")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"median_ms", "p95_ms"} <= values.keys() and values["p95_ms"] <= values["median_ms"]:
            yield (
                "p95_ms",
                f"p95_ms ({values['p95_ms']}) must be > median_ms ({values['median_ms']})",
            )


class ExponentialLatency(_Model):
    """``offset_ms`` plus an exponential with mean ``mean_ms`` (memoryless service time)."""

    model: Literal["exponential"] = "exponential"
    mean_ms: _PositiveMs
    offset_ms: _NonNegativeMs = 0.0


class EmpiricalLatency(_Model):
    """A percentile table, e.g. measured in production, interpolated linearly.

    ``percentiles`` maps a percentile (0–100) to milliseconds and must include 0 (the
    minimum) and 100 (the maximum); between two entries the inverse CDF is a straight
    line, so a sample is uniform within each band.
    """

    model: Literal["empirical"] = "empirical"
    percentiles: dict[Annotated[float, Field(ge=0, le=100), NOT_BOOL], _NonNegativeMs]

    @model_validator(mode="after")
    def _table_is_a_cdf(self) -> EmpiricalLatency:
        points = sorted(self.percentiles.items())
        if not points or points[0][0] != 0 or points[-1][0] != 100:
            got = ", ".join(f"{p:g}" for p, _ in points) or "none"
            raise ValueError(
                "percentiles must include 0 (the minimum) and 100 (the maximum); "
                f"got percentiles {got}"
            )
        for (p_low, ms_low), (p_high, ms_high) in itertools.pairwise(points):
            if ms_high < ms_low:
                raise ValueError(
                    f"latency must not decrease with the percentile: p{p_low:g} is "
                    f"{ms_low:g} ms but p{p_high:g} is {ms_high:g} ms"
                )
        return self


LatencyModel = Annotated[
    FixedLatency
    | UniformLatency
    | NormalLatency
    | LognormalLatency
    | ExponentialLatency
    | EmpiricalLatency,
    Field(discriminator="model"),
]
"""Any latency model; the ``model`` key picks which."""


def lognormal_parameters(median_ms: float, p95_ms: float) -> tuple[float, float]:
    """Return ``(mu, sigma)`` of the underlying normal, from the median and p95 in ms."""
    mu = math.log(median_ms)
    return mu, (math.log(p95_ms) - mu) / Z95


def make_sampler(model: LatencyModel, rng: random.Random) -> Sampler:
    """Bind ``model`` to ``rng`` and return a function drawing one latency in ms."""
    if isinstance(model, FixedLatency):
        value = float(model.ms)
        return lambda: value
    if isinstance(model, UniformLatency):
        low, high = model.min_ms, model.max_ms
        return lambda: rng.uniform(low, high)
    if isinstance(model, NormalLatency):
        return _normal_sampler(model, rng)
    if isinstance(model, LognormalLatency):
        mu, sigma = lognormal_parameters(model.median_ms, model.p95_ms)
        return lambda: rng.lognormvariate(mu, sigma)
    if isinstance(model, ExponentialLatency):
        rate, offset = 1.0 / model.mean_ms, model.offset_ms
        return lambda: offset + rng.expovariate(rate)
    if isinstance(model, EmpiricalLatency):
        return _empirical_sampler(model, rng)
    raise TypeError(f"unknown latency model {model!r}")


def _normal_sampler(model: NormalLatency, rng: random.Random) -> Sampler:
    mean, stddev, floor = model.mean_ms, model.stddev_ms, model.min_ms

    def sample() -> float:
        while True:
            value = rng.gauss(mean, stddev)
            if value >= floor:
                return value

    return sample


def _empirical_sampler(model: EmpiricalLatency, rng: random.Random) -> Sampler:
    points = sorted(model.percentiles.items())
    quantiles = [p / 100.0 for p, _ in points]
    values = [ms for _, ms in points]

    def sample() -> float:
        u = rng.random()
        i = bisect.bisect_right(quantiles, u)  # quantiles[i-1] <= u < quantiles[i]
        q_low, q_high = quantiles[i - 1], quantiles[i]
        v_low, v_high = values[i - 1], values[i]
        return v_low + (v_high - v_low) * (u - q_low) / (q_high - q_low)

    return sample


def describe(model: LatencyModel) -> str:
    """A short human summary, e.g. ``uniform 200–500 ms``, for the startup lines."""
    if isinstance(model, FixedLatency):
        return f"fixed {model.ms:g} ms"
    if isinstance(model, UniformLatency):
        return f"uniform {model.min_ms:g}–{model.max_ms:g} ms"
    if isinstance(model, NormalLatency):
        return f"normal mean {model.mean_ms:g} ms sd {model.stddev_ms:g} ms"
    if isinstance(model, LognormalLatency):
        return f"lognormal median {model.median_ms:g} ms p95 {model.p95_ms:g} ms"
    if isinstance(model, ExponentialLatency):
        offset = f"{model.offset_ms:g} ms + " if model.offset_ms else ""
        return f"exponential {offset}mean {model.mean_ms:g} ms"
    points = sorted(model.percentiles.items())
    return "empirical " + ", ".join(f"p{p:g}={ms:g}" for p, ms in points) + " ms"
