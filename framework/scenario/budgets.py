"""Budgets: limits on latency, errors and throughput, as a scenario or budgets file states them.

They are judged by confidence interval in ``framework.verdicts.budgets``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema

from framework.scenario.fields import NOT_BOOL, Duration, Flag, OnePassModel, shown
from framework.scenario.grades import GradeName
from framework.scenario.metrics import FIGURE_FIELDS

__all__ = [
    "BUDGET_METRICS",
    "DEFAULT_ABORT_AFTER_S",
    "DEFAULT_MAX_DROPPED",
    "DEFAULT_MAX_LAG_P99_MS",
    "MAX_LATENCY_MS",
    "MAX_THROUGHPUT",
    "Budgets",
    "LimitSet",
    "Percent",
    "ValidationRules",
    "parse_percent",
]


MAX_LATENCY_MS = 3_600_000
"""Largest latency budget in ms (an hour): more is a unit mistake, not a budget."""
MAX_THROUGHPUT = 100_000_000
"""Largest throughput budget in requests per second."""
DEFAULT_MAX_LAG_P99_MS = 50.0
"""Open model: the schedule lag p99 (ms) above which the generator is said to have fallen
behind; far above a loop's scheduling jitter, far below the latencies it would distort."""
DEFAULT_MAX_DROPPED = 0.001
"""Open model: the share of arrivals that may be dropped (0.1%) before the figures stop
describing the planned load."""
DEFAULT_ABORT_AFTER_S = 60.0
"""Running time before ``abort_on_fail`` may stop a run: the ramp-up and a first honest
interval (the live estimates wait for 20 s) are in by then."""


def parse_percent(value: Any) -> Any:
    """``"10%"`` → 0.1; numbers are fractions already (0.1); ``true`` is neither."""
    if isinstance(value, bool):
        raise ValueError(f"expected a percentage (10%) or a fraction (0.1), got {value}")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                return float(text[:-1]) / 100
            except ValueError:
                raise ValueError(
                    f"invalid percentage {shown(value)}; write e.g. 10% or 0.1"
                ) from None
    return value


def _within_100_percent(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError(
            f"percentages are 0% to 100% (fractions 0 to 1), got {value:g} ({value:.0%})"
        )
    return value


Percent = Annotated[
    float,
    BeforeValidator(parse_percent),
    AfterValidator(_within_100_percent),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
            ],
            "description": "A fraction (0.05) or a percentage ('5%').",
        }
    ),
]

# budget key → (results field, kind, unit): "upper" limits must not be exceeded, "lower" must
# be met. In the order budget verdicts are listed.
BUDGET_METRICS: dict[str, tuple[str, Literal["upper", "lower"], str]] = {
    "p50_ms": (FIGURE_FIELDS["p50"], "upper", "ms"),
    "p95_ms": (FIGURE_FIELDS["p95"], "upper", "ms"),
    "p99_ms": (FIGURE_FIELDS["p99"], "upper", "ms"),
    "mean_ms": (FIGURE_FIELDS["mean"], "upper", "ms"),
    "error_rate": (FIGURE_FIELDS["error_rate"], "upper", ""),
    "min_throughput": (FIGURE_FIELDS["throughput"], "lower", "rps"),
}


class _Model(OnePassModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


LatencyMs = Annotated[float, Field(gt=0, le=MAX_LATENCY_MS), NOT_BOOL]


class LimitSet(_Model):
    """Limits for one request name (or for all requests together)."""

    p50_ms: LatencyMs | None = None
    p95_ms: LatencyMs | None = None
    p99_ms: LatencyMs | None = None
    mean_ms: LatencyMs | None = None
    error_rate: Percent | None = None
    min_throughput: Annotated[float, Field(gt=0, le=MAX_THROUGHPUT), NOT_BOOL] | None = Field(
        None, description="Requests per second."
    )
    tolerance: Percent | None = Field(None, description="Overrides the budgets' tolerance.")

    relation_fields: ClassVar[tuple[str, ...]] = ("p50_ms", "p95_ms", "p99_ms")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        given = [(k, values[k]) for k in cls.relation_fields if values.get(k) is not None]
        for (low_key, low), (high_key, high) in itertools.pairwise(given):
            if high < low:
                yield (
                    high_key,
                    f"must not be below {low_key} ({low:g}): a higher percentile is never "
                    f"faster, got {high:g}",
                )


class Budgets(_Model):
    """The ``budgets:`` section of a scenario, or a separate ``--budgets`` file."""

    tolerance: Percent = Field(0.10, description="Allowed excess over each budget (10%).")
    inconclusive: Literal["pass", "fail"] = Field(
        "pass", description="What an inconclusive verdict does to the exit code."
    )
    overall: LimitSet | None = None
    requests: dict[str, LimitSet] = Field(default_factory=dict)
    abort_on_fail: Flag = Field(
        False,
        description=(
            "Stop the run as soon as a budget fails with confidence (its whole interval "
            "beyond the limit); the run ends aborted, exit code 1."
        ),
    )
    abort_after: Duration = Field(
        DEFAULT_ABORT_AFTER_S,
        ge=0,
        description="With abort_on_fail: running time before budgets may stop the run (1m).",
    )


class ValidationRules(_Model):
    """When a run's figures are good enough to be trusted as a baseline."""

    min_samples: Annotated[int, Field(ge=0, le=10**12), NOT_BOOL] = Field(
        1000, description="Requests in the analysed window."
    )
    max_ci_half_width: Percent = Field(0.10, description="Relative half-width of p95's CI.")
    min_quality: GradeName = Field("warn", description="Worst data-quality grade still accepted.")
    max_error_rate: Percent = Field(0.05, description="Highest acceptable error rate.")
    max_lag_p99_ms: LatencyMs = Field(
        DEFAULT_MAX_LAG_P99_MS,
        description=(
            "Open model: highest acceptable p99 of the schedule lag (how late arrivals "
            "started) in ms; above it the generator fell behind."
        ),
    )
    max_dropped: Percent = Field(
        DEFAULT_MAX_DROPPED,
        description="Open model: highest acceptable share of arrivals dropped (0.1%).",
    )
