"""Budgets: limits on latency, errors and throughput, as a scenario or budgets file states them.

They are judged by confidence interval in ``framework.verdicts.budgets``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from framework.scenario.grades import GradeName
from framework.scenario.metrics import FIGURE_FIELDS

__all__ = [
    "BUDGET_METRICS",
    "Budgets",
    "LimitSet",
    "Percent",
    "ValidationRules",
    "parse_percent",
]


def parse_percent(value: Any) -> Any:
    """``"10%"`` → 0.1; numbers are fractions already (0.1)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                return float(text[:-1]) / 100
            except ValueError:
                raise ValueError(f"invalid percentage {value!r}; write e.g. 10% or 0.1") from None
    return value


Percent = Annotated[
    float,
    BeforeValidator(parse_percent),
    Field(ge=0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitSet(_Model):
    """Limits for one request name (or for all requests together)."""

    p50_ms: float | None = Field(None, gt=0)
    p95_ms: float | None = Field(None, gt=0)
    p99_ms: float | None = Field(None, gt=0)
    mean_ms: float | None = Field(None, gt=0)
    error_rate: Percent | None = None
    min_throughput: float | None = Field(None, gt=0, description="Requests per second.")
    tolerance: Percent | None = Field(None, description="Overrides the budgets' tolerance.")


class Budgets(_Model):
    """The ``budgets:`` section of a scenario, or a separate ``--budgets`` file."""

    tolerance: Percent = Field(0.10, description="Allowed excess over each budget (10%).")
    inconclusive: Literal["pass", "fail"] = Field(
        "pass", description="What an inconclusive verdict does to the exit code."
    )
    overall: LimitSet | None = None
    requests: dict[str, LimitSet] = Field(default_factory=dict)


class ValidationRules(_Model):
    """When a run's figures are good enough to be trusted as a baseline."""

    min_samples: int = Field(1000, ge=0, description="Requests in the analysed window.")
    max_ci_half_width: Percent = Field(0.10, description="Relative half-width of p95's CI.")
    min_quality: GradeName = Field("warn", description="Worst data-quality grade still accepted.")
    max_error_rate: Percent = Field(0.05, description="Highest acceptable error rate.")
