"""``swarm mocks`` / ``python -m mock_detectors``: start the mock detectors from a config.

    swarm mocks                                  # the five ready profiles on 8001..8005
    swarm mocks --config my.yaml --only fast,slow --port-offset 100
    swarm mocks --host 0.0.0.0 --admin-token s3cret --processes 2
    swarm mocks --config my.yaml --check         # validate and print, then exit
    swarm mocks --idle-timeout 30 --header-timeout 5 --max-connections 5000

Exit codes: 0 after a clean stop (SIGTERM or Ctrl-C) or a passing ``--check``;
2 for a bad config or bad flags (the message names file, line and field), a blank
admin token, or a ``--max-connections`` above what the file-descriptor limit allows;
3 when the service cannot run (a port in use, a process that died).
This is the only module that turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from framework.converters import duration, port_offset, positive, processes
from framework.errors import ConfigError, SwarmError
from framework.suggestions import did_you_mean, nearest
from mock_detectors.config import describe_detector
from mock_detectors.connections import DEFAULT_HEADER_TIMEOUT_S, DEFAULT_IDLE_TIMEOUT_S
from mock_detectors.loader import DEFAULT_CONFIG_PATH, load_config
from mock_detectors.service import Listener, Service, plan_listeners

__all__ = ["TOKEN_ENV", "admin_token", "build_parser", "main"]

TOKEN_ENV = "SWARM_MOCKS_ADMIN_TOKEN"
"""Environment variable read when ``--admin-token`` is not given."""

READY_LINE = "mock detectors ready"
"""Printed once every detector listens; scripts and tests wait for it."""

_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what a header carries unchanged


class _Parser(argparse.ArgumentParser):
    """argparse that suggests the nearest real flag for a mistyped one."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            flags = [o for action in self._actions for o in action.option_strings]
            for word in message.split(":", 1)[1].split():
                near = nearest(word.split("=")[0], flags)
                if near:
                    message += f" ({did_you_mean([near], quote=False)})"
                    break
        super().error(message)


def build_parser(prog: str = "swarm mocks") -> argparse.ArgumentParser:
    """The argument parser (exposed so ``swarm`` can show the same help)."""
    parser = _Parser(
        prog=prog,
        description="Start mock detector services with known latency, errors and faults.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=str(DEFAULT_CONFIG_PATH),
        help="detectors YAML (default: the five ready profiles in mock_detectors/detectors.yaml)",
    )
    parser.add_argument("--host", help="address to listen on (default: the config's, 127.0.0.1)")
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        type=_names,
        help="start only these detectors",
    )
    parser.add_argument(
        "--port-offset",
        type=port_offset,
        default=0,
        metavar="N",
        help="add N to every configured port (to run two sets side by side)",
    )
    parser.add_argument(
        "--processes",
        type=processes,
        default=1,
        metavar="N",
        help="serve every port from N processes with SO_REUSEPORT (default 1)",
    )
    parser.add_argument(
        "--admin-token",
        metavar="TOKEN",
        default=None,
        help=f"token the admin API requires (default: ${TOKEN_ENV}); "
        "mandatory when --host is not loopback",
    )
    parser.add_argument(
        "--header-timeout",
        type=duration,
        default=DEFAULT_HEADER_TIMEOUT_S,
        metavar="SECONDS",
        help="answer 408 and close when a request's line and headers have not all arrived "
        f"this long after its first byte (default {DEFAULT_HEADER_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=duration,
        default=DEFAULT_IDLE_TIMEOUT_S,
        metavar="SECONDS",
        help="close a kept-alive connection idle this long, or a request body stalled this "
        f"long (default {DEFAULT_IDLE_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=positive,
        default=None,
        metavar="N",
        help="open connections per process; beyond it the oldest idle one is closed "
        "(default: what the file-descriptor limit leaves room for)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the config, print the detectors and exit",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="for the fault log on stderr (default INFO)",
    )
    return parser


def main(argv: list[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the mock detectors; return the exit code (see the module docstring)."""
    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad flags
        return int(exc.code or 0)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load_config(args.config)
        listeners = plan_listeners(
            config, host=args.host, only=args.only, port_offset=args.port_offset
        )
        token = admin_token(args.admin_token, os.environ.get(TOKEN_ENV))
        if args.check:
            _print_lines(out, [(item, item.port) for item in listeners])
            return 0
        service = Service(
            listeners,
            processes=args.processes,
            admin_token=token,
            header_timeout_s=args.header_timeout,
            idle_timeout_s=args.idle_timeout,
            max_connections=args.max_connections,
        )

        def ready(bound: list[tuple[Listener, int]]) -> None:
            _print_lines(out, bound)
            processes = f"{args.processes} process{'es' if args.processes > 1 else ''}"
            out.write(f"{READY_LINE} ({processes}); Ctrl-C or SIGTERM stops them\n")
            out.flush()

        return service.run(ready)
    except SwarmError as exc:
        print(f"swarm mocks: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 0


def admin_token(flag: str | None, environment: str | None) -> str | None:
    """The admin token from ``--admin-token`` or else the environment; None if neither is set.

    A token that is set but blank, or holds spaces or characters a header would not
    carry unchanged, is refused (``ConfigError``, exit 2): the service would start with
    an admin API nobody can unlock.
    """
    source, token = ("--admin-token", flag) if flag is not None else (TOKEN_ENV, environment)
    if token is None:
        return None
    if not token.strip():
        raise ConfigError(
            f"{source} is set but blank; give a token of visible characters, "
            f"or leave {source} unset for no token (loopback only)",
            flag="--admin-token",
        )
    if not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"{source} must be visible ASCII characters without spaces (as a header sends "
            "them), got a token with spaces or other characters",
            flag="--admin-token",
        )
    return token


def _print_lines(out: TextIO, bound: Sequence[tuple[Listener, int]]) -> None:
    width = max(len(item.name) for item, _ in bound)
    for item, port in bound:
        out.write(f"{item.name:<{width}}  {item.url(port)}  {describe_detector(item.detector)}\n")
    out.flush()


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected NAME[,NAME...], got {text!r}")
    return names
