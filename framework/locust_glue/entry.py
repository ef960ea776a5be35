"""What every swarm locustfile does on import: compile the scenario, publish its classes.

Locust collects ``User`` and ``LoadTestShape`` classes from the locustfile's module
namespace, so ``expose`` writes them into the caller's ``globals()``. It also adds the
``--swarm-run-dir`` option, installs the per-second timeline recorder on whichever
runner Locust creates (local, master or worker), adds the Swarm tab to the web UI (master
or local, when there is one: ``web_tab``) and, once Locust has set up its logging, masks
the scenario's secrets in every log record (``redaction``).
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment

from framework.errors import ScenarioError
from framework.live.budget_status import budget_limits
from framework.locust_glue import telemetry, web_tab
from framework.locust_glue.compiler import CompiledScenario, compile_scenario
from framework.locust_glue.redaction import install_log_redaction
from framework.plan.record import PlanRecord
from framework.scenario.loader import LoadedScenario, load_scenario, load_scenario_data

__all__ = ["RUN_DIR_OPTION", "expose", "expose_bundle"]

RUN_DIR_OPTION = "--swarm-run-dir"


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        RUN_DIR_OPTION,
        default=None,
        help="swarm run folder: where the master writes the per-second timeline",
        include_in_web_ui=False,
    )


def _install_telemetry(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
    run_dir = getattr(options, "swarm_run_dir", None) if options else None
    telemetry.install(environment, Path(run_dir) if run_dir else None)


def expose(namespace: MutableMapping[str, Any], path: str | Path) -> CompiledScenario:
    """Compile the scenario at ``path`` into ``namespace``; exit 2 with the problems if invalid.

    Exiting is right here: this runs while Locust imports a locustfile, where an exception
    would become a traceback instead of the list of problems.
    """
    return _expose(namespace, lambda: load_scenario(path))


def expose_bundle(
    namespace: MutableMapping[str, Any],
    scenario_name: str,
    scenario_json: str,
    data_files: Mapping[str, str],
) -> CompiledScenario:
    """``expose`` for a bundle: unpack its data files, then validate and compile the scenario
    it carries as JSON (``${VAR}``s resolved from this process's environment; no YAML read)."""
    folder = Path(tempfile.mkdtemp(prefix="swarm-bundle-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for relative, text in data_files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    path = folder / Path(scenario_name).name
    return _expose(namespace, lambda: load_scenario_data(json.loads(scenario_json), path))


def _expose(
    namespace: MutableMapping[str, Any], load: Callable[[], LoadedScenario]
) -> CompiledScenario:
    try:
        loaded = load()
        compiled = compile_scenario(loaded)
    except ScenarioError as exc:
        sys.stderr.write(f"swarm: {exc}\n")
        sys.exit(2)
    namespace.update({cls.__name__: cls for cls in compiled.user_classes})
    namespace[compiled.shape_class.__name__] = compiled.shape_class
    redactor = loaded.redactor
    events.init_command_line_parser.add_listener(_add_options)
    events.init.add_listener(lambda **_kwargs: install_log_redaction(redactor))
    events.init.add_listener(_install_telemetry)
    plan, limits = PlanRecord.from_plan(compiled.plan), budget_limits(loaded.scenario.budgets)
    events.init.add_listener(
        lambda environment, **_kwargs: web_tab.install(environment, plan=plan, limits=limits)
    )
    return compiled
