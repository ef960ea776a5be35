"""Every error swarm raises on purpose, and the one table of the exit codes they end in.

    SwarmError                        root: catch this to catch everything swarm raises
    ├── ScenarioError                 a scenario file is invalid           .problems .file
    │   └── UnresolvedVariableError   only ``${VAR}``s without a value     .variables
    ├── ConfigError                   another input is invalid             .file .flag
    │   ├── DetectorConfigError       a mock-detector config file          .problems
    │   ├── SuiteError                a suite file (``swarm suite``)       .problems
    │   └── OpenApiError              an API description (``swarm init``)   .problems
    ├── UsageError                    a command-line value is invalid      .flag .value
    │   ├── UnknownRunError           no run with that id                  .run_id .suggestions
    │   └── NoBaselineError           --baseline latest|pinned found none  .scenario .reference
    ├── RunError                      the run itself could not run         .path
    └── ReportError                   a run folder cannot be read          .path .line
        └── StoreError                the results index cannot be used     .corrupt

The families (the classes one level below the root) are what callers catch and what
``EXIT_CODES`` maps: 2 for invalid input (``ScenarioError``, ``ConfigError``,
``UsageError``), 3 for a run or a report that could not be made (``RunError``,
``ReportError``). Each error keeps what it is about as attributes (file, flag, run id,
path, ...) besides the message, so a caller can act on it without parsing text.

Library code raises; only the command-line entry points (``framework.cli.main``, the
store commands' ``dispatch`` and ``mock_detectors.cli``) turn an error into a message and
``exit_code_for(exc)`` (also ``exc.exit_code``). The table lives here rather than in the
CLI because the run stage records exit codes in run.json, library errors answer
``exc.exit_code`` themselves, and no stage may import the CLI.

Some exceptions stay beside the code that raises them because they never reach a user:
they are signals between two functions of one stage (``YamlSyntaxError``,
``TemplateError``, ``DataExhaustedError``, ``RequestTimeout``, ``ChunkedBodyError``); each
says so in its docstring. ``framework.limits.InputRefused`` (a file that is not a regular
file, or past a size, depth or values limit) is such a signal too, shared by every reader:
each wraps it in its own error beside the file's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType

from framework.suggestions import did_you_mean

__all__ = [
    "EXIT_CODES",
    "ConfigError",
    "DetectorConfigError",
    "ExitCode",
    "MetricError",
    "NoBaselineError",
    "OpenApiError",
    "Problem",
    "ReportError",
    "RunError",
    "ScenarioError",
    "StoreError",
    "SuiteError",
    "SwarmError",
    "UnknownRunError",
    "UnresolvedVariableError",
    "UsageError",
    "exit_code_for",
]


class ExitCode(IntEnum):
    """What a ``swarm`` process's exit status means (the README's table)."""

    OK = 0
    """The run finished, or the command succeeded."""
    CHECK_FAILED = 1
    """The run finished but a budget, a comparison or (``--require-valid``) a rule failed."""
    INVALID_INPUT = 2
    """The scenario, a flag, a run id or a config file is invalid; nothing ran."""
    RUN_FAILED = 3
    """The run (or its report) could not be made: Locust, the run folder, a lost worker."""
    INTERRUPTED = 130
    """Ctrl-C or SIGTERM; the run folder is still complete."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can.

    ``line`` and ``column`` are 1-based; ``None`` when the problem has no single place
    (for example a missing key, which is reported at its parent mapping). ``flag`` names
    the command-line flag the value came from instead of the file (``--set load.users``);
    the field is then left out of the text when the flag already names it.
    """

    file: str
    line: int | None
    column: int | None
    path: str
    message: str
    flag: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.flag:
            where += f": {self.flag}"
        named = bool(self.flag) and self.flag.endswith(f" {self.path}")
        field = f" {self.path}:" if self.path and not named else ""
        return f"{where}:{field} {self.message}"


def _problem_list(what: str, problems: Sequence[Problem]) -> str:
    """``"2 problems in <what>:"`` and one indented line per problem."""
    count = len(problems)
    head = f"{count} problem{'s' if count != 1 else ''} in {what}"
    return head + ":\n" + "\n".join(f"  {p}" for p in problems)


class SwarmError(Exception):
    """Root of every error swarm raises on purpose.

    ``exit_code`` is read from ``EXIT_CODES`` by the error's family, so no class states
    its own number.
    """

    @property
    def exit_code(self) -> ExitCode:
        """The process exit status this error ends ``swarm`` with."""
        return exit_code_for(self)


class ScenarioError(SwarmError):
    """A scenario file cannot be used; raised by ``load_scenario`` with every problem found.

    ``problems`` are located (file, line, column, field path); ``file`` is the scenario's
    file as it was named, ``None`` only when no problem was given.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        self.file = self.problems[0].file if self.problems else None
        super().__init__(_problem_list("scenario", self.problems))


class UnresolvedVariableError(ScenarioError):
    """Every problem is a ``${VAR}`` with no value in the environment and no ``:-default``.

    Raised by ``load_scenario`` instead of a plain ``ScenarioError`` so that a caller can
    tell "set these variables" apart from "fix the file"; ``variables`` names them.
    """

    def __init__(self, problems: Iterable[Problem], *, variables: Iterable[str]) -> None:
        self.variables = tuple(dict.fromkeys(variables))
        super().__init__(problems)


class ConfigError(SwarmError):
    """An input other than a scenario is invalid: a ``--budgets`` file, a report's budgets,
    a mock-detector setting.

    ``file`` is the file at fault and ``flag`` the command-line flag, when either applies.
    """

    def __init__(self, message: str, *, file: str | None = None, flag: str | None = None) -> None:
        self.file = file
        self.flag = flag
        super().__init__(message)


class DetectorConfigError(ConfigError):
    """A mock-detector config file cannot be used; raised by ``mock_detectors.load_config``
    with every problem found (``problems``, located like a scenario's)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        file = self.problems[0].file if self.problems else None
        super().__init__(_problem_list("mock-detector config", self.problems), file=file)


class SuiteError(ConfigError):
    """A suite file cannot be used; raised by ``framework.suites.load_suite`` with every
    problem found (``problems``, located like a scenario's: a test's scenario that is
    missing or invalid is reported at that test's ``scenario`` line). Nothing has run."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        file = self.problems[0].file if self.problems else None
        super().__init__(_problem_list("suite", self.problems), file=file)


class OpenApiError(ConfigError):
    """An OpenAPI document cannot be made into a scenario (``swarm init --from-openapi``):
    missing, not YAML or JSON, not OpenAPI 3.0/3.1 (Swagger 2.0 is named as such), or
    invalid by the OpenAPI validator. ``problems`` are located at the document's lines where
    the parser or the validator's path gives one. Nothing has been written."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        file = self.problems[0].file if self.problems else None
        super().__init__(_problem_list("OpenAPI document", self.problems), file=file)


class MetricError(ConfigError, ValueError):
    """A custom metric is used wrongly: a name or dimension that is not an identifier path,
    a kind or unit that differs from the metric's first use, a value a histogram cannot
    hold, or more distinct dimension sets than the bound. ``metric`` names the metric."""

    def __init__(self, message: str, *, metric: str | None = None) -> None:
        self.metric = metric
        super().__init__(message)


class UsageError(SwarmError):
    """A command-line value is invalid (a run id, a metric, a combination of flags); nothing ran.

    ``flag`` is the flag or argument it concerns (``"--run-id"``, ``"--metric"``) and
    ``value`` what was given, when one value is at fault.
    """

    def __init__(self, message: str, *, flag: str | None = None, value: object = None) -> None:
        self.flag = flag
        self.value = value
        super().__init__(message)


class UnknownRunError(UsageError):
    """The results store has no run with this id (``swarm runs show``, ``--baseline RUN``).

    ``suggestions`` holds the closest ids, ``reports_dir`` the folder searched.
    """

    def __init__(self, *, run_id: str, suggestions: Sequence[str] = (), reports_dir: Path) -> None:
        self.run_id = run_id
        self.suggestions = tuple(suggestions)
        self.reports_dir = reports_dir
        hint = f"; {did_you_mean(suggestions)}" if suggestions else ""
        super().__init__(
            f"no run {run_id!r} in {reports_dir}{hint} "
            f"(swarm runs list --out {reports_dir} lists them)",
            value=run_id,
        )


class NoBaselineError(UsageError):
    """``--baseline latest`` or ``pinned`` (``reference``) found no run of ``scenario``.

    ``swarm run --baseline latest`` treats it as a warning (the first run has nothing to
    compare with); everywhere else it is invalid input.
    """

    def __init__(self, message: str, *, scenario: str, reference: str) -> None:
        self.scenario = scenario
        self.reference = reference
        super().__init__(message, flag="--baseline", value=reference)


class RunError(SwarmError):
    """The load test could not run: Locust failed to start, the run folder cannot be made,
    a timeline already exists, a mock-detector process died.

    ``path`` is the file or folder concerned, when there is one.
    """

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)


class ReportError(SwarmError):
    """A run folder is missing, incomplete or of an unknown format version.

    ``path`` is the folder or file that cannot be read, ``line`` the 1-based line of a
    timeline record at fault.
    """

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        super().__init__(message)


class StoreError(ReportError):
    """The results index (``index.sqlite``, ``store.json``) cannot be read or written:
    a corrupt file, a lock held too long, no permission.

    ``corrupt`` is true when the file itself is damaged, which ``swarm runs rebuild`` cures.
    """

    def __init__(self, message: str, *, path: Path | None = None, corrupt: bool = False) -> None:
        self.corrupt = corrupt
        super().__init__(message, path=path)


EXIT_CODES: Mapping[type[BaseException], ExitCode] = MappingProxyType(
    {
        ScenarioError: ExitCode.INVALID_INPUT,
        ConfigError: ExitCode.INVALID_INPUT,
        UsageError: ExitCode.INVALID_INPUT,
        RunError: ExitCode.RUN_FAILED,
        ReportError: ExitCode.RUN_FAILED,
        SwarmError: ExitCode.RUN_FAILED,
        KeyboardInterrupt: ExitCode.INTERRUPTED,
    }
)
"""Error family to exit code: the one place these numbers are chosen."""


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code of ``exc``: that of its nearest family in ``EXIT_CODES``.

    Anything else is a bug in swarm, which Python reports with a traceback (exit 1), so
    it has no entry; asking for one is a ``KeyError``.
    """
    for family in type(exc).__mro__:
        if family in EXIT_CODES:
            return EXIT_CODES[family]
    raise KeyError(f"{type(exc).__name__} has no exit code; only swarm errors do")
