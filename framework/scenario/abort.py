"""Abort guards: the scenario's ``abort:`` list, rules that stop a run that is going nowhere.

Each item is one condition on the per-second figures of the run, the time it must hold
without a break (``for``), and optionally the request name it watches::

    abort:
      - {error_rate: 50%, for: 30s}                  # half the requests fail, 30 s on end
      - {p95_ms: 2000, for: 60s, request: /detect}   # /detect's p95 at 2 s or more for 60 s
      - {target_down: true, for: 10s}                # the default guard, with a shorter window

A condition *holds* in a second when that second's figure reaches the limit (``≥``). The
default guard ``{target_down: true, for: 30s}`` (every request of 30 s failed) is in force
unless an item names ``target_down``: ``{target_down: false}`` switches it off. Rules are
judged while the run goes on (``framework.live.abort_guard``); a tripped rule stops the run,
which then ends ``aborted`` (exit code 1).

    >>> [rule.text for rule in guards_in_force([AbortRule.model_validate({"error_rate": "50%"})])]
    ['error_rate ≥ 50% for 30 s', 'target_down for 30 s']
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from framework.scenario.budgets import MAX_LATENCY_MS, Percent
from framework.scenario.fields import NOT_BOOL, Duration, Flag, OnePassModel, shown

__all__ = [
    "ABORT_METRICS",
    "DEFAULT_FOR_S",
    "AbortRule",
    "guards_in_force",
]

DEFAULT_FOR_S = 30.0
"""How long a condition must hold when ``for`` is not given, and the default guard's window."""

ABORT_METRICS: dict[str, str] = {
    "error_rate": "",
    "p50_ms": "ms",
    "p95_ms": "ms",
    "p99_ms": "ms",
    "mean_ms": "ms",
}
"""The figures a rule may watch (the budgets' names) → their unit (``""``: a fraction)."""

_CONDITIONS = (*ABORT_METRICS, "target_down")

LatencyMs = Annotated[float, Field(gt=0, le=MAX_LATENCY_MS), NOT_BOOL]


class AbortRule(OnePassModel):
    """One abort guard: exactly one condition, how long it must hold, what it watches."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    error_rate: Percent | None = Field(
        None, description="Abort when this share of requests (or more) fails, every second."
    )
    p50_ms: LatencyMs | None = Field(None, description="Abort when p50 reaches this, in ms.")
    p95_ms: LatencyMs | None = Field(None, description="Abort when p95 reaches this, in ms.")
    p99_ms: LatencyMs | None = Field(None, description="Abort when p99 reaches this, in ms.")
    mean_ms: LatencyMs | None = Field(None, description="Abort when the mean reaches this, in ms.")
    target_down: Flag | None = Field(
        None,
        description=(
            "Every request failed (true: the default guard, on unless switched off; false: off)."
        ),
    )
    for_s: Duration = Field(
        DEFAULT_FOR_S,
        alias="for",
        description="How long the condition must hold without a break (default 30 s).",
    )
    request: str | None = Field(
        None,
        min_length=1,
        description="A request name or 'METHOD name' to watch; default: all requests.",
    )

    relation_fields: ClassVar[tuple[str, ...]] = ("error_rate", "target_down", "request")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if values.get("error_rate") == 0:
            yield "error_rate", "must be above 0%: a rule at 0% would stop every run at once"
        if values.get("target_down") is not None and values.get("request") is not None:
            yield (
                "request",
                "target_down watches all requests together; remove request, or use "
                "{error_rate: 100%, request: ...} for one request name",
            )

    @field_validator("p50_ms", "p95_ms", "p99_ms", "mean_ms", mode="before")
    @classmethod
    def _milliseconds(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            raise ValueError(
                f"{info.field_name} is a number of milliseconds, like 2000; got {shown(value)}"
            )
        return value

    @field_validator("for_s")
    @classmethod
    def _whole_seconds(cls, value: float) -> float:
        if value < 1:
            raise ValueError(
                f"must be at least 1s: guards judge the timeline's whole seconds, got {value:g} s"
            )
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> AbortRule:
        """Counted once every field is valid: an invalid or misspelt key is not "none"."""
        given = [k for k in _CONDITIONS if getattr(self, k) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"an abort rule has exactly one condition of {', '.join(_CONDITIONS)} "
                f"(found: {found}), e.g. {{error_rate: 50%, for: 30s}}"
            )
        return self

    @property
    def condition(self) -> str:
        """The condition's key: ``"error_rate"``, ``"p95_ms"``, ``"target_down"``, …"""
        return next(k for k in _CONDITIONS if getattr(self, k) is not None)

    @property
    def limit(self) -> float | None:
        """The level that trips the rule (a fraction, or ms); ``None`` for ``target_down``."""
        return None if self.condition == "target_down" else float(getattr(self, self.condition))

    @property
    def seconds(self) -> int:
        """``for`` in whole seconds (rounded up): the timeline's resolution."""
        return max(1, math.ceil(self.for_s - 1e-9))

    @property
    def switched_off(self) -> bool:
        return self.target_down is False

    @property
    def text(self) -> str:
        """``"p95_ms ≥ 2000 ms for 60 s on /detect"``: the rule as a person reads it."""
        if self.condition == "target_down":
            head = "target_down" if self.target_down else "target_down off"
        elif self.condition == "error_rate":
            head = f"error_rate ≥ {_percent(self.error_rate or 0.0)}"
        else:
            head = f"{self.condition} ≥ {self.limit:g} ms"
        if self.switched_off:
            return head
        scope = f" on {self.request}" if self.request else ""
        return f"{head} for {self.seconds} s{scope}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"


DEFAULT_TARGET_DOWN = AbortRule.model_validate({"target_down": True})
"""The guard in force unless the scenario's ``abort:`` names ``target_down``."""


def guards_in_force(rules: Sequence[AbortRule]) -> list[AbortRule]:
    """The rules to judge: the scenario's, plus the default target-down guard unless an
    item names ``target_down`` (``false`` switches it off and is not judged)."""
    chosen = list(rules)
    if not any(rule.target_down is not None for rule in chosen):
        chosen.append(DEFAULT_TARGET_DOWN)
    return [rule for rule in chosen if not rule.switched_off]
