"""A scenario bundled into one self-contained locustfile, for workers on other hosts.

Locust workers started with ``-f -`` download the master's locustfile; a worker then needs
nothing but swarm installed and the master's address. The bundle embeds the scenario as
written — every ``${VAR}`` and ``${VAR:-default}`` intact, resolved from each worker's own
environment when it imports the bundle — except the target hosts, which the master
resolved (workers must hit what the master announced), and the contents of its CSV files.

The scenario travels as the JSON of the data the master validated, not as YAML: a worker
validates that data (:func:`framework.scenario.loader.load_scenario_data`) and never parses
YAML again. No secret value is in it, so Locust may save it on the worker as it does.
That data has the run's ``--set`` overrides applied, and the bundle carries its
``--time-scale``, so whatever imports it (the master, the workers, the one Locust process of
a run the command line changed) runs the same scenario and plan.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from framework.errors import RunError
from framework.limits import DATA_BYTES, read_text
from framework.scenario.loader import LoadedScenario

__all__ = ["BUNDLE_DATA_DIR", "bundle_source", "write_bundle"]

BUNDLE_DATA_DIR = "data"


def bundle_source(loaded: LoadedScenario) -> str:
    """Python source of a locustfile that runs ``loaded`` wherever it is imported."""
    scenario = copy.deepcopy(loaded.source)
    if loaded.scenario.host is not None:
        scenario["host"] = _host(loaded, loaded.scenario.host, scenario.get("host"))
    for index, user in enumerate(loaded.scenario.users):
        if user.host is not None:
            source = scenario["users"][index].get("host")
            scenario["users"][index]["host"] = _host(loaded, user.host, source)
    data_files: dict[str, str] = {}
    for name, spec in loaded.scenario.data.items():
        relative = f"{BUNDLE_DATA_DIR}/{name}.csv"
        source = loaded.base_dir / spec.file
        try:
            data_files[relative] = read_text(source, DATA_BYTES)
        except (OSError, ValueError) as exc:  # changed since the scenario was validated
            raise RunError(f"{source}: cannot bundle data file: {exc}", path=source) from None
        scenario["data"][name]["file"] = relative
    text = json.dumps(scenario, ensure_ascii=False, default=_json_scalar)
    return (
        f'"""swarm bundle of scenario {loaded.scenario.name!r} (generated; do not edit).\n\n'
        "Secrets are ${VAR} references, resolved from the importing process's environment.\n"
        '"""\n\n'
        "from framework.locust_glue.entry import expose_bundle\n\n"
        f"SCENARIO_NAME = {loaded.path.name!r}\n"
        f"SCENARIO_JSON = {text!r}\n"
        f"DATA_FILES = {data_files!r}\n"
        f"TIME_SCALE = {loaded.time_scale!r}\n\n"
        "expose_bundle(globals(), SCENARIO_NAME, SCENARIO_JSON, DATA_FILES, TIME_SCALE)\n"
    )


def _host(loaded: LoadedScenario, resolved: str, source: Any) -> Any:
    """The host as the master resolved it, unless a secret is in it (a password in the URL
    from a ``${VAR}``): then the file's ``${VAR}`` form, which each worker resolves itself,
    because no secret value may be written to the run folder (design contract 5)."""
    if any(secret and secret in resolved for secret in loaded.secrets) and source is not None:
        return source
    return resolved


def _json_scalar(value: Any) -> str:
    """A YAML scalar JSON has no type for (a date, a timestamp) travels as its text."""
    return value.isoformat() if isinstance(value, date) else str(value)


def write_bundle(loaded: LoadedScenario, folder: Path) -> Path:
    """Write the bundle as ``folder/swarm_bundle.py`` and return its path."""
    target = folder / "swarm_bundle.py"
    target.write_text(bundle_source(loaded), encoding="utf-8")
    return target
