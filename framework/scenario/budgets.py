"""Budgets: limits on latency, errors and throughput, judged by confidence interval.

A budget passes only when the whole interval is within ``budget × (1 + tolerance)`` (for
throughput, at or above ``budget × (1 − tolerance)``), fails only when the whole interval is
beyond it, and is inconclusive otherwise: a run too short or too noisy to tell gets no
verdict it has not earned. ``inconclusive: fail`` makes such budgets fail CI.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from framework.verdicts.results import BudgetVerdict, Figure

__all__ = [
    "BUDGET_METRICS",
    "Budgets",
    "LimitSet",
    "Percent",
    "ValidationRules",
    "judge",
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

# metric name → (results field, kind): "upper" limits must not be exceeded, "lower" must be met.
BUDGET_METRICS: dict[str, tuple[str, Literal["upper", "lower"], str]] = {
    "p50_ms": ("median_ms", "upper", "ms"),
    "p95_ms": ("p95_ms", "upper", "ms"),
    "p99_ms": ("p99_ms", "upper", "ms"),
    "mean_ms": ("mean_ms", "upper", "ms"),
    "error_rate": ("error_rate", "upper", ""),
    "min_throughput": ("throughput_rps", "lower", "rps"),
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
    min_quality: Literal["pass", "warn", "fail"] = Field(
        "warn", description="Worst data-quality grade still accepted."
    )
    max_error_rate: Percent = Field(0.05, description="Highest acceptable error rate.")


def _fmt(value: float, unit: str) -> str:
    if unit == "":
        return f"{value * 100:.2f}%"
    return f"{value:.4g} {unit}"


def judge(
    scope: str, metric: str, budget: float, tolerance: float, figure: Figure
) -> BudgetVerdict:
    """The verdict of one budget on one figure (see the module docstring)."""
    _field, kind, unit = BUDGET_METRICS[metric]
    limit = budget * (1 + tolerance) if kind == "upper" else budget * (1 - tolerance)
    low, high, value = figure.low, figure.high, figure.value
    if value is None:
        verdict, why = "inconclusive", "no data"
    elif kind == "upper" and figure.censored:
        # Censored by timeouts: the true value is at least ``value``, never known to be less.
        verdict = "fail" if value > limit else "inconclusive"
        why = f"≥ {_fmt(value, unit)} (censored by timeouts)"
    elif low is None or high is None:
        verdict, why = "inconclusive", f"{_fmt(value, unit)} has no confidence interval"
    elif kind == "upper":
        verdict = "pass" if high <= limit else "fail" if low > limit else "inconclusive"
        why = f"{_fmt(value, unit)} [{_fmt(low, unit)}, {_fmt(high, unit)}]"
    else:
        verdict = "pass" if low >= limit else "fail" if high < limit else "inconclusive"
        why = f"{_fmt(value, unit)} [{_fmt(low, unit)}, {_fmt(high, unit)}]"
    relation = "≤" if kind == "upper" else "≥"
    message = (
        f"{scope} {metric}: {why} vs budget {_fmt(budget, unit)} "
        f"(limit {relation} {_fmt(limit, unit)} with {tolerance:.0%} tolerance): {verdict}"
    )
    return BudgetVerdict(scope, metric, budget, tolerance, limit, figure, verdict, message)
