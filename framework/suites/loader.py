"""Load a suite file: YAML with places → the model → every test's scenario checked, in one pass.

A suite that cannot run all the way must not run at all: a test whose scenario is missing,
or invalid once its ``set:`` overrides and targets are applied, would otherwise fail an
hour into the suite, after the tests before it. So every test's scenario is loaded here as
its ``swarm run`` child will load it, and each problem is reported at the suite's line
(``suite.yaml:14:16: tests[2].scenario: ...``); a problem an override causes points at
that override's line under ``set:``. Nothing is run or written when there is any.

Targets become ``--set budgets.overall.KEY=VALUE`` overrides of the test's run, so they are
recorded in its run.json (``overrides``) and validated as the scenario's own budgets are.
With ``--budgets FILE`` (which replaces a scenario's budgets) the file and the targets go
together as one ``--set budgets=...`` instead: a run judged against the file alone would
silently drop the targets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from framework.errors import ConfigError, Problem, ScenarioError, SuiteError
from framework.plan.groups import schedule_for
from framework.scenario.loader import load_scenario, read_located
from framework.scenario.overrides import SET_FLAG, Override, parse_override
from framework.scenario.problems import (
    duplicate_name_problems,
    problem_at,
    validation_problems,
)
from framework.scenario.yaml_source import Located
from framework.suites.model import SuiteFile, SuiteTest, Targets

__all__ = [
    "MIN_SCALED_PLAN_S",
    "LoadedSuite",
    "PlannedTest",
    "load_suite",
    "read_suite",
    "target_overrides",
]

MIN_SCALED_PLAN_S = 1.0
"""Shortest plan a test's ``time_scale`` may leave (as ``swarm run --time-scale``: the
timeline counts whole seconds, so less would measure nothing)."""

_EXPECTED = (
    "expected a suite: a YAML mapping with name and tests (see suites/detectors.yaml "
    "and docs/suites.md)"
)


@dataclass(frozen=True)
class PlannedTest:
    """One test as it will run: its scenario file (absolute), the ``--set`` texts of its
    ``set:`` and targets (in that order), and the scenario's name (for messages)."""

    test: SuiteTest
    index: int
    scenario_path: Path
    scenario_name: str
    overrides: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.test.name

    @property
    def type(self) -> str:
        return self.test.type

    def overrides_at(self, workers: int) -> tuple[str, ...]:
        """The ``--set`` texts of the run at ``workers``: the test's, then a scale's
        ``per_worker`` values times ``workers``."""
        scale = self.test.scale
        if scale is None:
            return self.overrides
        return (*self.overrides, *(_set_text(k, v) for k, v in scale.values_at(workers).items()))

    @property
    def worker_counts(self) -> tuple[int, ...]:
        """The ``--workers`` of each run: the scale's counts, else the test's one value."""
        if self.test.scale is not None:
            return tuple(self.test.scale.workers)
        return (self.test.workers,)


@dataclass(frozen=True)
class LoadedSuite:
    """A valid suite: the model, its file (absolute), every test planned, the mocks' config."""

    suite: SuiteFile
    path: Path
    tests: tuple[PlannedTest, ...]
    mocks_path: Path | None = None

    @property
    def name(self) -> str:
        return self.suite.name

    def selected(self, test_type: str) -> tuple[PlannedTest, ...]:
        """The tests of ``test_type`` (``all``: every test), in the file's order."""
        if test_type == "all":
            return self.tests
        return tuple(t for t in self.tests if t.type == test_type)


def target_overrides(
    targets: Targets | None, budgets_data: Mapping[str, Any] | None = None
) -> list[str]:
    """The ``--set`` texts that judge a run against ``targets``.

    Without ``budgets_data`` (a ``--budgets`` file's data) one override per target key;
    with it, one ``budgets=`` override holding the file with the targets in its ``overall``.

    >>> target_overrides(Targets(p95_ms=2000, success_rate=0.95))
    ['budgets.overall.p95_ms=2000', 'budgets.overall.error_rate=0.05']
    """
    keys = targets.budget_overrides() if targets is not None else {}
    if budgets_data is None:
        return [f"budgets.overall.{key}={_number(value)}" for key, value in keys.items()]
    merged = dict(budgets_data)
    overall = merged.get("overall")
    merged["overall"] = {**(overall if isinstance(overall, Mapping) else {}), **keys}
    return [f"budgets={json.dumps(merged, separators=(',', ':'))}"]


def _number(value: float) -> str:
    """``2000`` rather than ``2000.0``, ``0.05`` as it is: a value as a person writes it."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def _set_text(path: str, value: Any) -> str:
    """``load.users=5``: a ``set:`` entry as ``--set`` takes it (the value as JSON, which is
    YAML: a string stays a string, ``${VAR}`` included)."""
    return f"{path}={json.dumps(value, ensure_ascii=False)}"


def _read(label: str, path: Path) -> Located:
    return read_located(
        path,
        label,
        expected=_EXPECTED,
        not_mapping="found a {found}; " + _EXPECTED,
        error=SuiteError,
    )


def read_suite(path: str | os.PathLike[str]) -> SuiteFile:
    """The suite file's own fields, validated (``SuiteError`` listing every problem), without
    loading its scenarios: enough to find its suite folders (``--report-only``)."""
    return _parsed(str(path), Path(path))[0]


def _parsed(label: str, file: Path) -> tuple[SuiteFile, Located]:
    located = _read(label, file)
    try:
        suite = SuiteFile.model_validate(located.data)
    except ValidationError as exc:
        problems = validation_problems(
            label,
            located,
            located.data,
            exc.errors(include_url=False),
            root=SuiteFile,
            tag="type",
        )
        problems += _duplicate_names(label, located)
        raise SuiteError(sorted(problems, key=_order)) from None
    return suite, located


def load_suite(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    budgets_data: Mapping[str, Any] | None = None,
) -> LoadedSuite:
    """Read and validate the suite at ``path`` and every test's scenario; ``SuiteError``
    listing every problem found.

    ``env`` is the environment the tests' ``${VAR}``s are resolved from (default
    ``os.environ``, as the ``swarm run`` children will); ``budgets_data`` the data of a
    ``--budgets`` file already validated, which every test's targets are merged into.
    """
    label = str(path)
    file = Path(path)
    suite, located = _parsed(label, file)
    base = file.resolve().parent
    problems = _duplicate_names(label, located)
    mocks_path = None
    if suite.mocks is not None:
        mocks_path = (base / suite.mocks).resolve()
        problems += _mocks_problems(label, located, mocks_path)
    tests = []
    for index, test in enumerate(suite.tests):
        planned, found = _plan_test(label, located, suite, index, test, base, env, budgets_data)
        problems += found
        if planned is not None:
            tests.append(planned)
    if problems:
        raise SuiteError(sorted(problems, key=_order))
    return LoadedSuite(suite, file.resolve(), tuple(tests), mocks_path)


def _order(problem: Problem) -> tuple[int, int]:
    return (problem.line or 0, problem.column or 0)


def _duplicate_names(label: str, located: Located) -> list[Problem]:
    message = "two tests are named {name}; names must be unique (they name run folders)"
    return duplicate_name_problems(label, located, located.data, "tests", message)


def _mocks_problems(label: str, located: Located, mocks_path: Path) -> list[Problem]:
    """The mocks config must exist and be valid: the suite starts those detectors."""
    from mock_detectors.loader import load_config

    try:
        load_config(mocks_path)
    except ConfigError as exc:
        inner = "; ".join(str(p) for p in getattr(exc, "problems", ())) or str(exc)
        message = f"mock-detector config {mocks_path} cannot be used: {inner}"
        return [problem_at(label, located, ("mocks",), message)]
    return []


def _plan_test(
    label: str,
    located: Located,
    suite: SuiteFile,
    index: int,
    test: SuiteTest,
    base: Path,
    env: Mapping[str, str] | None,
    budgets_data: Mapping[str, Any] | None,
) -> tuple[PlannedTest | None, list[Problem]]:
    """The test planned, or the problems of its scenario, located in the suite file."""
    at = ("tests", index)
    scenario_path = (base / test.scenario).resolve()
    texts = [_set_text(key, value) for key, value in test.set.items()]
    overrides: list[Override] = []
    problems = []
    for key, text in zip(test.set, texts, strict=True):
        try:
            overrides.append(parse_override(text))
        except ValueError as exc:
            problems.append(problem_at(label, located, (*at, "set", key), str(exc), key=True))
    targets = target_overrides(suite.targets_of(test), budgets_data)
    overrides += [parse_override(text) for text in targets]
    if problems:
        return None, problems
    if not scenario_path.is_file():
        what = "is not a file" if scenario_path.exists() else "not found"
        message = f"scenario {scenario_path} {what} (the path is relative to the suite file)"
        return None, [problem_at(label, located, (*at, "scenario"), message)]
    for workers in test.scale.workers if test.scale is not None else (test.workers,):
        scaled_by = test.scale.values_at(workers) if test.scale is not None else {}
        at_count = []
        for key, value in scaled_by.items():
            try:
                at_count.append(parse_override(_set_text(key, value)))
            except ValueError as exc:
                where = (*at, "scale", "per_worker", key)
                return None, [problem_at(label, located, where, str(exc), key=True)]
        try:
            loaded = load_scenario(
                scenario_path,
                env=env,
                require_host=True,
                overrides=[*overrides, *at_count],
                time_scale=test.time_scale,
            )
        except ScenarioError as exc:
            return None, [_scenario_problem(label, located, at, test, p) for p in exc.problems]
        scaled = schedule_for(loaded.scenario, time_scale=test.time_scale).duration_s
        if scaled < MIN_SCALED_PLAN_S:
            message = (
                f"time_scale {test.time_scale:g} leaves {scaled:g} s of the scenario's plan; "
                f"a run needs at least {MIN_SCALED_PLAN_S:g} s"
            )
            return None, [problem_at(label, located, (*at, "time_scale"), message)]
    planned = PlannedTest(test, index, scenario_path, loaded.scenario.name, (*texts, *targets))
    return planned, []


def _scenario_problem(
    label: str, located: Located, at: tuple[str | int, ...], test: SuiteTest, problem: Problem
) -> Problem:
    """A problem of a test's scenario, placed in the suite: at the ``set:`` entry whose
    override caused it, at ``targets`` for a target's budget, else at ``scenario`` with the
    scenario file's own place in the message."""
    flag = problem.flag or ""
    if flag.startswith(f"{SET_FLAG} "):
        written = flag.removeprefix(f"{SET_FLAG} ")
        if written in test.set:
            message = f"{problem.message} (in scenario {test.scenario})"
            return problem_at(label, located, (*at, "set", written), message)
        scale = test.scale.per_worker if test.scale is not None else {}
        if written in scale:
            message = f"{problem.message} (times the workers, in scenario {test.scenario})"
            return problem_at(label, located, (*at, "scale", "per_worker", written), message)
        if written.startswith("budgets"):
            own = "targets" in located.data["tests"][at[1]]
            where = (*at, "targets") if own else ("targets",)
            return problem_at(label, located, where, f"as a budget: {problem.message}")
    return problem_at(label, located, (*at, "scenario"), f"in the scenario: {problem}")
