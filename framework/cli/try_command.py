"""``swarm try FILE``: each users entry's flow once against the target, every exchange shown.

For a newcomer's "what does my template actually send?" and a quick look at an API before
loading it (k6's ``--http-debug``): no run folder, no Locust runner, no statistics. The
work is ``framework.locust_glue.try_session`` (Locust is imported only when the command
runs), the printing ``framework.run.try_flow``; this module parses the flags and maps the
outcome to the exit code: 0 every check and capture held, 1 one failed, 2 invalid input,
3 no request got any response (the target is down or the host is wrong), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from framework.converters import integer
from framework.errors import ExitCode
from framework.run.try_flow import DEFAULT_BODY_LIMIT, TryPrinter
from framework.scenario.loader import load_scenario
from framework.scenario.overrides import Override, parse_override

__all__ = ["MAX_BODY_LIMIT", "MAX_TRY_REQUESTS", "add_command", "run_try"]

MAX_TRY_REQUESTS = 10_000
"""Most ``--requests``: a try shows every exchange; more is a load test (``swarm run``)."""
MAX_BODY_LIMIT = 10_000_000
"""Largest ``--body-limit`` in characters (10 M: beyond any body worth reading in a terminal)."""


def _override(text: str) -> Override:
    try:
        return parse_override(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``swarm try`` to the ``swarm`` parser's commands."""
    command = commands.add_parser(
        "try",
        help="run each users entry's flow once against the target and show every exchange",
        description="Run each users entry's on_start and flow once (an entry without a flow: "
        "each of its requests once, in order) against the target, printing every request as "
        "sent (method, URL, headers and body, secrets masked), every response (status, time, "
        "headers, body cut to --body-limit), the captures and each check's outcome. Writes no "
        "run folder. Exit codes: 0 every check and capture held; 1 one failed; 2 invalid "
        "input; 3 the target could not be reached (no request got a response); 130 Ctrl-C.",
    )
    command.add_argument("scenario", help="scenario YAML file")
    command.add_argument("--host", help="target base URL (overrides the scenario and SWARM_HOST)")
    command.add_argument("--user", metavar="NAME", help="only this users entry (default: each)")
    command.add_argument(
        "--requests",
        type=integer(1, MAX_TRY_REQUESTS),
        metavar="N",
        help="per users entry: N iterations of its flow, or N of its requests in order, "
        f"round the list (1..{MAX_TRY_REQUESTS}; default: the flow once, each request once)",
    )
    command.add_argument(
        "--body-limit",
        type=integer(0, MAX_BODY_LIMIT),
        default=DEFAULT_BODY_LIMIT,
        metavar="N",
        help=f"show at most N characters of each body (default {DEFAULT_BODY_LIMIT}; 0: none)",
    )
    command.add_argument(
        "--set",
        dest="overrides",
        type=_override,
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one value of the scenario, validated as the file is (repeatable)",
    )


def run_try(args: argparse.Namespace) -> int:
    """``swarm try``: load (exit 2 on any problem, nothing sent), run, print, exit code."""
    loaded = load_scenario(
        args.scenario, host=args.host, require_host=True, overrides=args.overrides
    )
    for warning in loaded.warnings:
        print(f"swarm: warning: {warning}", file=sys.stderr)
    from framework.locust_glue.try_session import try_scenario  # imports Locust (gevent)

    console = Console(highlight=False, emoji=False, markup=False, soft_wrap=True)
    printer = TryPrinter(
        console.print,
        loaded.redactor,
        body_limit=args.body_limit,
        secret_vars=loaded.scenario.secrets,
    )
    try_scenario(loaded, printer, user=args.user, iterations=args.requests)
    tally = printer.finish()
    if tally.exit_code is ExitCode.RUN_FAILED:
        targets = sorted(
            {
                str(loaded.host_for(spec))
                for spec in loaded.scenario.users
                if args.user is None or spec.name == args.user
            }
        )
        first = tally.failures[0] if tally.failures else "no response"
        print(
            f"swarm try: could not reach {', '.join(targets)}: {first}; is the target up, "
            "and is --host (or the scenario's host) right?",
            file=sys.stderr,
        )
    return int(tally.exit_code)
