"""Budgets: limits on latency, errors and throughput, as a scenario or budgets file states them.

They are judged by confidence interval in ``framework.verdicts.budgets``. ``metrics:``
holds limits on custom metrics (``detector.server_ms: {p95: 300}``), keyed by a metric's
name or one dimension set of it (``detector.server_ms{model=fast}``), judged in
``framework.verdicts.metric_budgets``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

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
    "METRIC_LIMITS",
    "Budgets",
    "LimitSet",
    "MetricLimitSet",
    "Percent",
    "ValidationRules",
    "parse_metric_key",
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


# custom-metric limit → (MetricResult figure, "upper"/"lower", the metric kinds it fits). In the
# order metric budget verdicts are listed.
METRIC_LIMITS: dict[str, tuple[str, Literal["upper", "lower"], frozenset[str]]] = {
    "mean": ("mean", "upper", frozenset({"histogram", "timer", "gauge"})),
    "p50": ("p50", "upper", frozenset({"histogram", "timer"})),
    "p95": ("p95", "upper", frozenset({"histogram", "timer"})),
    "p99": ("p99", "upper", frozenset({"histogram", "timer"})),
    "max": ("max", "upper", frozenset({"histogram", "timer", "gauge"})),
    "min": ("min", "lower", frozenset({"gauge"})),
    "min_rate": ("rate", "lower", frozenset({"counter", "meter"})),
    "max_rate": ("rate", "upper", frozenset({"counter", "meter"})),
    "max_total": ("total", "upper", frozenset({"counter", "meter"})),
}

_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
"""``framework.timeline.metric_records.METRIC_NAME`` (which this stage may not import)."""
_DIMENSION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=([^,{}=]+)")
_METRIC_KEY_FORMS = "a metric name (detector.server_ms) or name{dim=value,...}"


def parse_metric_key(key: str) -> tuple[str, dict[str, str]]:
    """``detector.score{model=fast}`` → ``("detector.score", {"model": "fast"})``;
    ``ValueError`` saying what is allowed when ``key`` is neither form.

    >>> parse_metric_key("detector.score{model=fast, region=eu}")
    ('detector.score', {'model': 'fast', 'region': 'eu'})
    """
    name, brace, rest = key.strip().partition("{")
    name = name.strip()
    if not _METRIC_NAME.fullmatch(name):
        raise ValueError(
            f"{shown(key)} is not {_METRIC_KEY_FORMS}: the name must be identifiers joined by dots"
        )
    dims: dict[str, str] = {}
    if not brace:
        return name, dims
    if not rest.endswith("}"):
        raise ValueError(f"{shown(key)} is not {_METRIC_KEY_FORMS}: missing the closing }}")
    for part in rest[:-1].split(","):
        found = _DIMENSION.fullmatch(part.strip())
        if not found or not found.group(2).strip():
            raise ValueError(
                f"{shown(key)} is not {_METRIC_KEY_FORMS}: {shown(part.strip())} is not "
                "dim=value (a dimension name is an identifier)"
            )
        dim, value = found.group(1), found.group(2).strip()
        if dim in dims:
            raise ValueError(f"{shown(key)}: dimension {dim!r} is given twice")
        dims[dim] = value
    return name, dims


def _metric_key(key: str) -> str:
    try:
        parse_metric_key(key)
    except ValueError as exc:
        raise PydanticCustomError("metric_key", "{message}", {"message": str(exc)}) from None
    return key


MetricKey = Annotated[str, AfterValidator(_metric_key)]


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


MetricValue = Annotated[float, NOT_BOOL]
PositiveRate = Annotated[float, Field(gt=0), NOT_BOOL]


class MetricLimitSet(_Model):
    """Limits for one custom metric (or one dimension set of it), in the metric's unit.

    Which limits fit depends on the metric's kind, known only from the run: histogram and
    timer ``mean p50 p95 p99 max``; gauge ``mean`` (time-weighted) ``max min``; counter and
    meter ``min_rate max_rate`` (per second) and ``max_total``. A limit that does not fit
    the kind fails its budget, saying so.
    """

    mean: MetricValue | None = Field(None, description="Upper limit on the mean.")
    p50: MetricValue | None = Field(None, description="Upper limit on the median.")
    p95: MetricValue | None = Field(None, description="Upper limit on p95.")
    p99: MetricValue | None = Field(None, description="Upper limit on p99.")
    max: MetricValue | None = Field(None, description="Upper limit on the largest value.")
    min: MetricValue | None = Field(None, description="Gauge: lower limit on the smallest value.")
    min_rate: PositiveRate | None = Field(None, description="Counter/meter: lowest rate per s.")
    max_rate: PositiveRate | None = Field(None, description="Counter/meter: highest rate per s.")
    max_total: Annotated[float, Field(ge=0), NOT_BOOL] | None = Field(
        None, description="Counter/meter: highest total over the analysed window."
    )
    tolerance: Percent | None = Field(None, description="Overrides the budgets' tolerance.")

    relation_fields: ClassVar[tuple[str, ...]] = ("p50", "p95", "p99", "min_rate", "max_rate")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        given = [(k, values[k]) for k in ("p50", "p95", "p99") if values.get(k) is not None]
        for (low_key, low), (high_key, high) in itertools.pairwise(given):
            if high < low:
                yield (
                    high_key,
                    f"must not be below {low_key} ({low:g}): a higher percentile is never "
                    f"lower, got {high:g}",
                )
        low, high = values.get("min_rate"), values.get("max_rate")
        if low is not None and high is not None and high < low:
            yield ("max_rate", f"must not be below min_rate ({low:g}), got {high:g}")

    def limits(self) -> list[tuple[str, float]]:
        """The limits given, in ``METRIC_LIMITS`` order."""
        return [(k, getattr(self, k)) for k in METRIC_LIMITS if getattr(self, k) is not None]


class Budgets(_Model):
    """The ``budgets:`` section of a scenario, or a separate ``--budgets`` file."""

    tolerance: Percent = Field(0.10, description="Allowed excess over each budget (10%).")
    inconclusive: Literal["pass", "fail"] = Field(
        "pass", description="What an inconclusive verdict does to the exit code."
    )
    overall: LimitSet | None = None
    requests: dict[str, LimitSet] = Field(default_factory=dict)
    metrics: dict[MetricKey, MetricLimitSet] = Field(
        default_factory=dict,
        description=(
            "Limits on custom metrics, keyed by a metric name or name{dim=value,...} "
            "(one dimension set)."
        ),
    )
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
