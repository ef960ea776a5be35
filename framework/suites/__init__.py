"""Suites: a list of scenarios, each run as a test type, with one report over them all.

Takes a suite file (``suites/*.yaml``: named tests, each a scenario with its type —
smoke, load, stress, soak, fault-tolerance, scalability — overrides and targets) and gives
one ``swarm run`` child process per test (per worker count for a scalability ``scale``), each
with its own run folder, and the suite folder ``<out>/suites/<UTC time>-<name>/`` with
suite.json, suite.md and suite.html linking every run's report (see docs/suites.md).
"""

from framework.suites.loader import LoadedSuite, PlannedTest, load_suite, read_suite
from framework.suites.model import TEST_TYPES, SuiteFile, SuiteTest, Targets
from framework.suites.rebuild import latest_suite_dir, rebuild_suite_report
from framework.suites.results import SuiteResult, TestResult
from framework.suites.runner import SuiteOptions, SuiteOutcome, run_suite

__all__ = [
    "TEST_TYPES",
    "LoadedSuite",
    "PlannedTest",
    "SuiteFile",
    "SuiteOptions",
    "SuiteOutcome",
    "SuiteResult",
    "SuiteTest",
    "Targets",
    "TestResult",
    "latest_suite_dir",
    "load_suite",
    "read_suite",
    "rebuild_suite_report",
    "run_suite",
]
