"""The ``faults:`` section: faults a run injects on schedule, into a mock detector or by command.

A fault starts at a plan time (``at: 30s``) or at a phase (``at: {phase: "step 2", offset:
5s}``), lasts ``duration`` and either sets a mock detector's fault through its admin API
(``mock:`` a name from the ``mocks:`` file, or ``admin_url:``, with ``set:``) or runs a
``command:`` (``start``, optional ``stop``). What needs the plan (a phase's start, the plan's
end) is checked by ``framework.plan.faults``; what needs the mocks file (a known name) by the
loader. The run executes them (``framework.live.faults``) and records each in ``run.json``.

    >>> fault = FaultSpec.model_validate(
    ...     {"at": "30s", "duration": "20s", "mock": "success", "set": {"outage": True}})
    >>> fault.at.offset, fault.at.phase, fault.duration, fault.set.body()
    (30.0, None, 20.0, {'outage': True})
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ConfigDict, Field, field_validator

from framework.scenario.fields import NOT_BOOL, Duration, Flag, OnePassModel, shown

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT_S",
    "FAULT_SETTINGS",
    "FaultAt",
    "FaultCommand",
    "FaultSettings",
    "FaultSpec",
]

DEFAULT_COMMAND_TIMEOUT_S = 10.0
"""How long a fault's ``start`` or ``stop`` command may run before it is killed and failed."""
FAULT_SETTINGS = (
    "error_rate",
    "added_latency_ms",
    "latency_multiplier",
    "timeout_probability",
    "outage",
    "hang",
)
"""What ``set:`` may change on a mock detector (``hang`` is every request hanging)."""

_Rate = Annotated[float, Field(ge=0, le=1), NOT_BOOL]


class _Model(OnePassModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FaultAt(_Model):
    """When a fault starts: ``offset`` seconds into the plan, or into ``phase`` when given."""

    phase: str | None = Field(None, min_length=1, description="A phase name of the plan.")
    offset: Duration = Field(0.0, description="Seconds after the plan's (or phase's) start.")


def _at_mapping(value: Any) -> Any:
    """``at: 30s`` is ``{offset: 30s}``: one model for both ways of writing a start."""
    return value if isinstance(value, Mapping) else {"offset": value}


class FaultSettings(_Model):
    """What a mock fault changes (the mock's ``PUT /admin/faults`` body, less its duration)."""

    error_rate: _Rate | None = Field(None, description="Share of requests answered with 503.")
    added_latency_ms: Annotated[float, Field(ge=0, le=600_000), NOT_BOOL] | None = None
    latency_multiplier: Annotated[float, Field(gt=0, le=1000), NOT_BOOL] | None = None
    timeout_probability: _Rate | None = Field(None, description="Share of requests that hang.")
    outage: Flag | None = Field(None, description="Answer 503 to every request.")
    hang: Flag | None = Field(None, description="Every request hangs (timeout_probability 1).")

    relation_fields: ClassVar[tuple[str, ...]] = FAULT_SETTINGS

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if all(values.get(name) in (None, False) for name in FAULT_SETTINGS):
            yield "", f"a fault must change something: set one of {', '.join(FAULT_SETTINGS)}"
        if values.get("hang") and values.get("timeout_probability") is not None:
            yield "hang", "hang: true is timeout_probability 1; give one of the two"

    def body(self) -> dict[str, Any]:
        """The settings as written (unset ones left out)."""
        return self.model_dump(exclude_none=True)


class FaultCommand(_Model):
    """A command fault: ``start`` at the fault's start, ``stop`` at its end (both in a shell)."""

    start: str = Field(min_length=1)
    stop: str | None = Field(None, min_length=1)
    timeout: Duration = Field(
        DEFAULT_COMMAND_TIMEOUT_S, gt=0, description="Longest either command may run."
    )


class FaultSpec(_Model):
    """One scheduled fault: when, how long, against what, and its recovery SLA."""

    name: str | None = Field(
        None, min_length=1, max_length=100, description="Default: '<mock or command>-<n>'."
    )
    at: Annotated[FaultAt, BeforeValidator(_at_mapping)] = Field(
        description="Plan time (30s) or {phase, offset}; scaled by --time-scale."
    )
    duration: Duration = Field(gt=0, description="How long the fault lasts (plan time).")
    mock: str | None = Field(None, min_length=1, description="A detector of the mocks file.")
    admin_url: str | None = Field(None, description="A mock's base URL, instead of mock.")
    set: FaultSettings | None = Field(None, description="What the mock fault changes.")
    command: FaultCommand | None = None
    recovery_sla: Duration | None = Field(
        None, gt=0, description="Longest acceptable recovery after the fault ends."
    )

    @field_validator("admin_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"admin_url must be an http:// or https:// URL, got {shown(value)}")
        return None if value is None else value.rstrip("/")

    relation_fields: ClassVar[tuple[str, ...]] = ("mock", "admin_url", "set", "command")

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        mock, url = values.get("mock"), values.get("admin_url")
        command, settings = values.get("command"), values.get("set")
        targets = [k for k, v in (("mock", mock), ("admin_url", url)) if v is not None]
        if len(targets) == 2:
            yield "admin_url", "give mock (a name from the mocks file) or admin_url, not both"
        if targets and command is not None:
            yield "command", f"a fault is a mock fault ({targets[0]} + set) or a command, not both"
        elif not targets and "command" in values and command is None:
            yield "", "a fault needs a target: mock (or admin_url) with set, or command"
        if targets and command is None and "set" in values and settings is None:
            yield "set", f"a mock fault needs set: what to change ({', '.join(FAULT_SETTINGS)})"
        if command is not None and settings is not None:
            yield "set", "set is for mock faults; a command fault has only command"

    @property
    def kind(self) -> str:
        """``"command"`` or ``"mock"``."""
        return "command" if self.command is not None else "mock"

    def default_name(self, index: int) -> str:
        """``name``, else ``<mock>-<n>`` / ``command-<n>`` (``n`` counts from 1)."""
        if self.name:
            return self.name
        return f"{self.mock or ('command' if self.command else 'mock')}-{index + 1}"
