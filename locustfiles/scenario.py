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

from framework.locust_glue.entry import expose

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


_path = _scenario_path(sys.argv[1:])
if _path is not None:
    expose(globals(), _path)
elif not any(a in ("-h", "--help", "-V", "--version") for a in sys.argv[1:]):
    sys.stderr.write("swarm: locustfiles/scenario.py needs --scenario FILE (or SWARM_SCENARIO)\n")
    sys.exit(2)
