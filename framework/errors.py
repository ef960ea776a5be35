"""Every error swarm raises on purpose, so the CLI can turn each into a message and an exit code.

    SwarmError                      root: catch this to catch everything swarm raises
    ├── ScenarioError               a scenario file is invalid (exit 2)
    │   └── UnresolvedVariableError a ``${VAR}`` has no value and no default
    ├── ConfigError                 a mock-detector or budgets file is invalid (exit 2)
    ├── UsageError                  a command-line value is invalid (exit 2)
    │   ├── UnknownRunError         no run with that id (store; suggests close ones)
    │   └── NoBaselineError         --baseline latest|pinned found no run
    ├── RunError                    the run itself could not run (exit 3)
    │   └── DistributedError        a master or worker could not start or was lost
    └── ReportError                 a run folder cannot be read or reported (exit 3)
        └── StoreError              the results index cannot be read or written

``UnknownRunError`` lives in ``framework.store.results_store``, ``StoreError`` in
``framework.store.database`` and ``NoBaselineError`` in ``framework.cli.store_commands``,
beside the code that raises them.

Library code raises; only ``framework.cli.main`` maps these to exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DistributedError",
    "Problem",
    "ReportError",
    "RunError",
    "ScenarioError",
    "SwarmError",
    "UnresolvedVariableError",
    "UsageError",
]


class SwarmError(Exception):
    """Root of every error swarm raises on purpose."""

    exit_code: int = 3


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can.

    ``line`` and ``column`` are 1-based; ``None`` when the problem has no single place
    (for example a missing key, which is reported at its parent mapping).
    """

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ScenarioError(SwarmError):
    """A scenario file cannot be used; carries every problem found in one pass."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in scenario"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class UnresolvedVariableError(ScenarioError):
    """A ``${VAR}`` reference has no value in the environment and no ``:-default``."""


class ConfigError(SwarmError):
    """A configuration file other than a scenario (mock detectors, budgets) is invalid."""

    exit_code = 2


class UsageError(SwarmError):
    """A command-line value is invalid (a run id, a size); nothing ran."""

    exit_code = 2


class RunError(SwarmError):
    """The load test could not run: Locust failed to start, a port is taken, and so on."""

    exit_code = 3


class DistributedError(RunError):
    """A master or worker could not start, could not connect, or was lost."""

    def __init__(self, message: str, *, worker_id: str | None = None) -> None:
        self.worker_id = worker_id
        super().__init__(message)


class ReportError(SwarmError):
    """A run folder is missing, incomplete or of an unknown format version."""

    exit_code = 3
