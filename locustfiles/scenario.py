"""Locust entry file for a swarm scenario: ``locust -f locustfiles/scenario.py --scenario FILE``.

Locust collects user and shape classes from this module's namespace when it imports it,
before it parses its own options, so ``--scenario`` (or ``$SWARM_SCENARIO``) is read from
the command line here at import; the option is also registered with Locust's parser so
``--help`` shows it and normal Locust flags keep working beside it.
"""

from __future__ import annotations

import argparse
import os
import sys

from locust import events

from framework.errors import ScenarioError
from framework.loader import load_scenario
from framework.locust_glue.compiler import compile_scenario

SCENARIO_ENV_VAR = "SWARM_SCENARIO"


@events.init_command_line_parser.add_listener
def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        default=os.environ.get(SCENARIO_ENV_VAR),
        help="swarm scenario YAML file to run (or set SWARM_SCENARIO)",
        include_in_web_ui=False,
    )


def _scenario_path(argv: list[str]) -> str | None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--scenario")
    known, _ = pre.parse_known_args(argv)
    return known.scenario or os.environ.get(SCENARIO_ENV_VAR)


def _wants_help(argv: list[str]) -> bool:
    return any(a in ("-h", "--help", "-V", "--version") for a in argv)


_path = _scenario_path(sys.argv[1:])
if _path is None:
    if not _wants_help(sys.argv[1:]):
        sys.stderr.write(
            "swarm: locustfiles/scenario.py needs --scenario FILE (or SWARM_SCENARIO=FILE)\n"
        )
        sys.exit(2)
else:
    try:
        _compiled = compile_scenario(load_scenario(_path))
    except ScenarioError as exc:
        sys.stderr.write(f"swarm: {exc}\n")
        sys.exit(2)
    globals().update({cls.__name__: cls for cls in _compiled.user_classes})
    globals()[_compiled.shape_class.__name__] = _compiled.shape_class
    del _compiled
