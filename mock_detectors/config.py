"""The mock-detector config: what each detector answers, how fast, and how often it fails.

The models are validated once, when the file loads (see ``loader.py``), and are frozen
afterwards; every field is documented in ``docs/mock_detectors.md``.

    >>> cfg = MocksConfig.model_validate(
    ...     {"detectors": {"fast": {"latency": {"model": "fixed", "ms": 0}}}}
    ... )
    >>> cfg.detectors["fast"].port is None, cfg.port_of("fast")
    (True, 8001)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, field_validator

from framework.scenario.fields import NOT_BOOL, OnePassModel, shown
from mock_detectors.latency import FixedLatency, LatencyModel, describe
from mock_detectors.stall import StallConfig

__all__ = [
    "DEFAULT_BASE_PORT",
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMEOUT_HANG_MS",
    "BatchConfig",
    "DetectorConfig",
    "ErrorsConfig",
    "MocksConfig",
    "TimeoutsConfig",
    "describe_detector",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 8001
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_TIMEOUT_HANG_MS = 30_000.0

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_Rate = Annotated[float, Field(ge=0, le=1), NOT_BOOL]
_ErrorStatus = Annotated[int, Field(ge=400, le=599), NOT_BOOL]
_Port = Annotated[int, Field(ge=1, le=65535), NOT_BOOL]
_BodyBytes = Annotated[int, Field(ge=64, le=1 << 30), NOT_BOOL]


class _Model(OnePassModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ErrorsConfig(_Model):
    """A share ``rate`` of requests fails with a status drawn from ``statuses``.

    ``statuses`` maps each status to a relative weight, so ``{500: 2, 503: 1}`` gives
    two 500s for every 503. Each failure carries a JSON body saying why.
    """

    rate: _Rate = 0.0
    statuses: dict[_ErrorStatus, Annotated[float, Field(gt=0, le=1e9), NOT_BOOL]] = Field(
        default_factory=lambda: {500: 1.0}
    )

    @field_validator("statuses")
    @classmethod
    def _not_empty(cls, value: dict[int, float]) -> dict[int, float]:
        if not value:
            raise ValueError("statuses needs at least one status, e.g. {500: 1}")
        return value


class TimeoutsConfig(_Model):
    """A share ``rate`` of requests hangs for a ``hang`` latency, then gets ``status``.

    The hang is a latency model of its own so it can be fixed (a client timeout always
    fires) or spread out (some clients give up, some get a late answer).
    """

    rate: _Rate = 0.0
    hang: LatencyModel = Field(default_factory=lambda: FixedLatency(ms=DEFAULT_TIMEOUT_HANG_MS))
    status: Annotated[int, Field(ge=200, le=599), NOT_BOOL] = 504


class BatchConfig(_Model):
    """Enables ``POST /detect/batch``: latency is one base draw plus ``per_item_ms`` per item."""

    per_item_ms: Annotated[float, Field(ge=0, le=600_000), NOT_BOOL] = 0.0
    max_items: Annotated[int, Field(ge=1, le=100_000), NOT_BOOL] = 100


class DetectorConfig(_Model):
    """One detector: its own port, latency model, failure mix and verdicts."""

    description: str = ""
    port: Annotated[int, Field(ge=0, le=65535), NOT_BOOL] | None = None
    seed: Annotated[int, Field(ge=0, le=2**63 - 1), NOT_BOOL] | None = None
    latency: LatencyModel
    errors: ErrorsConfig = Field(default_factory=ErrorsConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    batch: BatchConfig | None = None
    stall: StallConfig | None = None
    labels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=lambda: ["spam", "abuse", "pii"], min_length=1
    )
    flag_threshold: _Rate = 0.8
    max_body_bytes: _BodyBytes | None = None

    relation_fields: ClassVar[tuple[str, ...]] = ("errors", "timeouts")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if {"errors", "timeouts"} <= values.keys():
            errors, timeouts = values["errors"].rate, values["timeouts"].rate
            if errors + timeouts > 1:
                yield (
                    "timeouts",
                    f"errors.rate + timeouts.rate must be <= 1, got {errors:g} + {timeouts:g}",
                )


class MocksConfig(_Model):
    """The whole file: shared defaults and the detectors, in start order."""

    host: str = DEFAULT_HOST
    base_port: _Port = DEFAULT_BASE_PORT
    max_body_bytes: _BodyBytes = DEFAULT_MAX_BODY_BYTES
    detectors: dict[str, DetectorConfig] = Field(min_length=1)

    @field_validator("detectors")
    @classmethod
    def _names(cls, value: dict[str, DetectorConfig]) -> dict[str, DetectorConfig]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(
                    f"detector name {shown(name)} must be lower-case letters, digits, '_' or '-', "
                    "starting with a letter, at most 40 characters"
                )
        return value

    relation_fields: ClassVar[tuple[str, ...]] = ("base_port", "detectors")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if not {"base_port", "detectors"} <= values.keys():
            return
        seen: dict[int, str] = {}
        for index, (name, detector) in enumerate(values["detectors"].items()):
            own = detector.port
            port = own if own is not None else values["base_port"] + index
            if port == 0:
                continue
            if port > 65535:
                yield "detectors", f"detector {name!r}: port {port} (base_port + index) > 65535"
            elif port in seen:
                yield "detectors", f"detectors {seen[port]!r} and {name!r} both use port {port}"
            seen[port] = name

    def port_of(self, name: str) -> int:
        """The port ``name`` listens on: its own ``port``, else ``base_port`` + its index."""
        detector = self.detectors[name]
        if detector.port is not None:
            return detector.port
        return self.base_port + list(self.detectors).index(name)

    def body_limit_of(self, name: str) -> int:
        """The largest request body ``name`` accepts, in bytes."""
        own = self.detectors[name].max_body_bytes
        return own if own is not None else self.max_body_bytes


def describe_detector(detector: DetectorConfig) -> str:
    """One line of profile summary, e.g. ``uniform 200–500 ms; 100% success``."""
    success = 1.0 - detector.errors.rate - detector.timeouts.rate
    parts = [describe(detector.latency), f"{success:.0%} success"]
    if detector.errors.rate:
        statuses = "/".join(str(s) for s in detector.errors.statuses)
        parts.append(f"{detector.errors.rate:.0%} errors {statuses}")
    if detector.timeouts.rate:
        parts.append(
            f"{detector.timeouts.rate:.0%} hang {describe(detector.timeouts.hang)} "
            f"then {detector.timeouts.status}"
        )
    if detector.batch is not None:
        parts.append(
            f"batch +{detector.batch.per_item_ms:g} ms/item (max {detector.batch.max_items})"
        )
    if detector.stall is not None:
        parts.append(detector.stall.describe())
    if detector.seed is not None:
        parts.append(f"seed {detector.seed}")
    return "; ".join(parts)
