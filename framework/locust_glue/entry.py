"""What every swarm locustfile does on import: compile the scenario, publish its classes.

Locust collects ``User`` and ``LoadTestShape`` classes from the locustfile's module
namespace, so ``expose`` writes them into the caller's ``globals()``. It also adds the
``--swarm-run-dir`` option (and ``--swarm-session-dir``, a web-UI session where every start
is a run folder of its own), installs the per-second timeline recorder and the pause /
resume control (``control``) on whichever runner Locust creates (local, master or worker),
and swarm's load engine when the scenario's load needs it (``engine``: open-model groups,
user kinds with loads of their own),
attaches the scenario's abort guards and, for ``shape: find_capacity``, the capacity search
(``capacity_search``) and the scenario's ``gauges:`` poller (``gauge_poller``) to the
master's (or local process's) live feed,
starts the InfluxDB sink on the master when ``INFLUXDB_V2_URL`` is set (``influx_sink``),
adds swarm's pieces to the web UI (``locust_glue.web_ui``) and the Swarm tab (master or
local, when there is a web UI: ``web_tab``) and, once Locust has set up its logging, masks
the scenario's secrets in every log record (``redaction``). The master (or local process)
also serves the live Prometheus ``/metrics`` (``metrics_server``).
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
from framework.live.arrivals import open_rates
from framework.live.budget_status import budget_limits
from framework.locust_glue import control, engine, metrics_server, telemetry, web_tab
from framework.locust_glue.abort_guards import install_abort_guards
from framework.locust_glue.capacity_search import install_capacity_search
from framework.locust_glue.compiler import CompiledScenario, compile_scenario
from framework.locust_glue.faults import install_faults
from framework.locust_glue.flows import keep_aggregates_out_of_locust_total
from framework.locust_glue.gauge_poller import install_gauge_poller
from framework.locust_glue.influx_sink import install_influx_sink
from framework.locust_glue.redaction import install_log_redaction
from framework.locust_glue.web_ui import install_web_ui
from framework.plan.faults import planned_faults
from framework.plan.record import PlanRecord
from framework.scenario.loader import LoadedScenario, load_scenario, load_scenario_data

__all__ = ["RUN_DIR_OPTION", "SESSION_DIR_OPTION", "expose", "expose_bundle"]

RUN_DIR_OPTION = "--swarm-run-dir"
SESSION_DIR_OPTION = "--swarm-session-dir"


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        RUN_DIR_OPTION,
        default=None,
        help="swarm run folder: where the master writes the per-second timeline",
        include_in_web_ui=False,
    )
    parser.add_argument(
        SESSION_DIR_OPTION,
        default=None,
        help="swarm web-UI session folder: each start writes a run folder beside it",
        include_in_web_ui=False,
    )


def _install_telemetry(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
    run_dir = getattr(options, "swarm_run_dir", None) if options else None
    session_dir = getattr(options, "swarm_session_dir", None) if options else None
    installed = telemetry.install(
        environment,
        Path(run_dir) if run_dir and not session_dir else None,
        session_dir=Path(session_dir) if session_dir else None,
    )
    control.install(environment)  # after telemetry: it moves the feed telemetry made
    if environment.web_ui is not None:
        install_web_ui(environment.web_ui, installed)


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
    time_scale: float = 1.0,
) -> CompiledScenario:
    """``expose`` for a bundle: unpack its data files, then validate and compile the scenario
    it carries as JSON (``${VAR}``s resolved from this process's environment; no YAML read),
    its plan scaled by the run's ``time_scale``."""
    folder = Path(tempfile.mkdtemp(prefix="swarm-bundle-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for relative, text in data_files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    path = folder / Path(scenario_name).name
    return _expose(
        namespace,
        lambda: load_scenario_data(json.loads(scenario_json), path, time_scale=time_scale),
    )


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
    events.init.add_listener(  # a flow's TXN and POLL rows, or a plugin's
        lambda environment, **_kwargs: keep_aggregates_out_of_locust_total(environment)
    )
    events.init.add_listener(  # after telemetry: the engine records into its recorder
        lambda environment, **_kwargs: engine.install(
            environment, compiled.schedule, compiled.user_classes
        )
    )
    events.init.add_listener(
        lambda environment, **_kwargs: install_abort_guards(environment, loaded.scenario)
    )
    events.init.add_listener(
        lambda environment, **_kwargs: install_faults(
            environment,
            lambda: planned_faults(loaded, compiled.schedule, time_scale=loaded.time_scale),
        )
    )
    events.init.add_listener(
        lambda environment, **_kwargs: install_capacity_search(
            environment, loaded.scenario, compiled.schedule
        )
    )
    if loaded.scenario.gauges:  # the master (or local process) polls the scenario's gauges
        events.init.add_listener(
            lambda environment, **_kw: install_gauge_poller(
                environment, loaded.scenario.gauges, loaded.host
            )
        )
    scenario = loaded.scenario
    events.init_command_line_parser.add_listener(metrics_server.add_options)
    events.init.add_listener(
        lambda environment, **_kw: metrics_server.install(
            environment,
            scenario=scenario.name,
            budgets=scenario.budgets,
            schedule=compiled.schedule,
        )
    )
    events.init.add_listener(
        lambda environment, **_kw: install_influx_sink(
            environment, telemetry.feed_of(environment), scenario=scenario.name
        )
    )
    names = [u.name for u in loaded.scenario.users]
    plan = PlanRecord.from_schedule(compiled.schedule, names)
    limits = budget_limits(loaded.scenario.budgets)
    rates = open_rates(compiled.schedule)
    events.init.add_listener(
        lambda environment, **_kwargs: web_tab.install(
            environment, plan=plan, limits=limits, rates=rates
        )
    )
    return compiled
