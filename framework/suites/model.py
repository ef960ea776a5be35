"""The suite file format: named tests, each a scenario with a test type, overrides and targets.

A suite is what the detector-orchestration seed runs as "smoke, load, stress, fault-tolerance,
scalability, all": one file lists the tests in the order they run; ``swarm suite --type T``
picks the tests of one type. The models only check the file's own fields; whether each
test's scenario exists and is valid with its overrides is checked by ``loader.load_suite``,
beside these problems, so one pass lists every problem of the suite.

    >>> Targets(p95_ms=2000, success_rate="95%", min_throughput=100).budget_overrides()
    {'p95_ms': 2000.0, 'error_rate': 0.05, 'min_throughput': 100.0}
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator

from framework.scenario.budgets import MAX_LATENCY_MS, MAX_THROUGHPUT, Percent
from framework.scenario.fields import NOT_BOOL, OnePassModel, shown

__all__ = [
    "MAX_WORKERS",
    "TEST_NAME",
    "TEST_TYPES",
    "Scale",
    "SuiteFile",
    "SuiteTest",
    "Targets",
    "TestType",
]

TestType = Literal["smoke", "load", "stress", "soak", "fault-tolerance", "scalability"]
TEST_TYPES: tuple[str, ...] = (
    "smoke",
    "load",
    "stress",
    "soak",
    "fault-tolerance",
    "scalability",
)
"""The test types, in the order the suite report lists them (the seed's names)."""

TEST_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")
"""A test's name: it becomes part of its run ids, so letters, digits, ``_`` and ``-``."""

MAX_WORKERS = 256
"""Most local worker processes a test may ask for (as ``swarm run --workers``)."""


class _Model(OnePassModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Targets(_Model):
    """The seed's targets: p95 below, success rate at least, throughput at least.

    They become budgets of the test's run (``budgets.overall``), judged by interval as every
    budget is: a target replaces the scenario's own value of the same key; every other
    budget of the scenario stays.
    """

    p95_ms: Annotated[float, Field(gt=0, le=MAX_LATENCY_MS), NOT_BOOL] | None = None
    success_rate: Percent | None = Field(
        None, description="Share of requests that must succeed: 95% (error_rate ≤ 5%)."
    )
    min_throughput: Annotated[float, Field(gt=0, le=MAX_THROUGHPUT), NOT_BOOL] | None = Field(
        None, description="Requests per second, at least."
    )

    def budget_overrides(self) -> dict[str, float]:
        """The ``budgets.overall`` keys these targets set, with their values."""
        found: dict[str, float] = {}
        if self.p95_ms is not None:
            found["p95_ms"] = float(self.p95_ms)
        if self.success_rate is not None:
            found["error_rate"] = round(1.0 - self.success_rate, 12)
        if self.min_throughput is not None:
            found["min_throughput"] = float(self.min_throughput)
        return found


class Scale(_Model):
    """``scale: {workers: [1, 2, 4]}``: one run of the test per worker count, in this order.

    ``per_worker`` gives scenario values that grow with the workers (``load.users: 50`` is
    50 users at 1 worker, 200 at 4): a closed run's users are split among its workers, so
    the same users over more workers is a smaller load per worker, which cannot scale.
    """

    workers: list[Annotated[int, Field(ge=1, le=MAX_WORKERS), NOT_BOOL]] = Field(
        min_length=2, description="Local worker processes of each run, ascending, no repeats."
    )
    per_worker: dict[str, Annotated[int | float, Field(gt=0), NOT_BOOL]] = Field(
        default_factory=dict,
        description="Scenario paths set to this value times the run's workers: "
        "{load.users: 50, load.spawn_rate: 25}.",
    )

    @field_validator("workers")
    @classmethod
    def _ascending(cls, value: list[int]) -> list[int]:
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError(
                f"worker counts must rise with no repeats (such as [1, 2, 4]), got {value}"
            )
        return value

    def values_at(self, workers: int) -> dict[str, int | float]:
        """``per_worker`` at ``workers`` workers (whole numbers stay whole).

        >>> Scale(workers=[1, 2], per_worker={"load.users": 50}).values_at(4)
        {'load.users': 200}
        """
        return {
            path: (value * workers if isinstance(value, int) else round(value * workers, 9))
            for path, value in self.per_worker.items()
        }


class SuiteTest(_Model):
    """One test of a suite: a scenario run as a test type, with its own changes."""

    name: str = Field(description="Unique in the suite; part of the test's run ids.")
    type: TestType
    scenario: str = Field(description="Scenario file, relative to the suite file.")
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="--set overrides of the scenario: {load.users: 5, host: http://...}.",
    )
    time_scale: Annotated[float, Field(gt=0), NOT_BOOL] = 1.0
    workers: Annotated[int, Field(ge=0, le=MAX_WORKERS), NOT_BOOL] = 0
    targets: Targets | None = Field(None, description="Replaces the suite's targets.")
    scale: Scale | None = None

    relation_fields: ClassVar[tuple[str, ...]] = ("type", "workers", "scale")

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not TEST_NAME.fullmatch(value):
            raise ValueError(
                f"a test name is 1-40 letters, digits, '_' or '-', starting with a letter "
                f"(it names the test's run folders), got {shown(value)}"
            )
        return value

    @field_validator("set")
    @classmethod
    def _paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not isinstance(key, str) or not key.strip():
                raise ValueError(
                    f"each key of set is a scenario path such as load.users, got {shown(key)}"
                )
        return value

    @classmethod
    def relation_problems(cls, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        scale = values.get("scale")
        if scale is None:
            return
        if "type" in values and values["type"] != "scalability":
            yield (
                "scale",
                f"scale runs a test once per worker count, for type scalability only "
                f"(this test's type is {values['type']})",
            )
        if values.get("workers"):
            yield ("workers", "give workers or scale, not both: scale sets each run's workers")


class SuiteFile(_Model):
    """A suite file as written (see ``docs/suites.md``)."""

    name: str = Field(min_length=1, max_length=60)
    description: str = ""
    targets: Targets | None = Field(None, description="Targets of every test without its own.")
    mocks: str | None = Field(
        None, description="Mock-detector config (relative to the suite file) to start."
    )
    tests: list[SuiteTest] = Field(min_length=1)

    def targets_of(self, test: SuiteTest) -> Targets | None:
        """The targets ``test`` is judged against: its own, else the suite's."""
        return test.targets if test.targets is not None else self.targets
