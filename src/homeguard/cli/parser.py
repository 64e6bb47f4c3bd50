"""The ``homeguard`` command line: every command, its options and the function it runs.

A command's function is named ``"module:function"`` (a module of :mod:`homeguard.cli`)
and imported only when the command runs (:func:`command_function`): a command loads
what it needs, not what every other command needs (Python's start is most of a short
command's time). Commands with ``--api`` name a second function, run with it."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

from homeguard import __version__
from homeguard.cli.codes import CODE_VARIABLE
from homeguard.core.modes import ArmMode

SERVICES = {"up", "controller", "simulate", "actuators"}
CODE_HELP = (
    f"'-': read your code from standard input. Without it: ${CODE_VARIABLE}, else a "
    "prompt. A code written here is visible to every user of the machine (ps): unsafe"
)
PASSWORD_VARIABLE = "HOMEGUARD_PASSWORD"


def command_function(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    """The function of the parsed command (its ``--api`` form's with ``--api``), imported."""
    name: str = args.run_api if getattr(args, "api", None) else args.run
    module, _, function = name.partition(":")
    run: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(f"homeguard.cli.{module}"), function
    )
    return run


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    name: str,
    run: str,
    text: str,
    *,
    api: str | None = None,
) -> argparse.ArgumentParser:
    """Add the command ``name``, which runs ``run`` (``"module:function"``), and with
    ``api`` given, has ``--api`` and ``--user`` and runs ``api`` with ``--api``."""
    p = sub.add_parser(name, parents=[common], help=text, description=text)
    p.set_defaults(run=run)
    if api is not None:
        _api_options(p)
        p.set_defaults(run_api=api)
    return p


def _api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api", metavar="URL", help="go through the dashboard's HTTP API instead of MQTT"
    )
    parser.add_argument(
        "--user", help=f"dashboard user for --api (password from ${PASSWORD_VARIABLE})"
    )


def _household_options(p: argparse.ArgumentParser) -> None:
    """``simulate``'s options for a simulated family (:mod:`.household`)."""
    p.add_argument(
        "--household",
        action="store_true",
        help="a family's weeks (routines, arming, battery drain, injected intrusions and "
        "sensor faults) instead of sensors acting at random",
    )
    p.add_argument("--days", type=int, default=28, help="with --household: days to simulate")
    p.add_argument("--seed", type=int, default=0, help="with --household: same seed, same life")
    p.add_argument(
        "--into-store",
        action="store_true",
        help="with --household: write the days, ending last midnight (UTC), into the event "
        "store instead of playing them over MQTT",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=3600.0,
        help="with --household over MQTT: simulated seconds per real second (default 3600)",
    )
    p.add_argument(
        "--evaluate",
        action="store_true",
        help="with --household: the same as 'homeguard evaluate' (docs/intelligence.md)",
    )
    p.add_argument("--weeks", type=int, default=5, help="with --evaluate: weeks to simulate")
    p.add_argument("--json", action="store_true", help="with --evaluate: JSON output")


def _evaluate_options(p: argparse.ArgumentParser) -> None:
    """``homeguard evaluate``'s options."""
    p.add_argument("--seed", type=int, default=0, help="same seed, same household, same numbers")
    p.add_argument(
        "--weeks", type=int, default=5, help="weeks to simulate, the first two to learn from"
    )
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument(
        "--no-forest",
        dest="forest",
        action="store_false",
        help="leave out the IsolationForest (the slowest part after sensor health)",
    )


def _events_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", default="24h", help="e.g. 30m, 1h, 7d, or an ISO date (default 24h)")
    p.add_argument("--until", help="same forms as --since")
    p.add_argument("--device", help="only this device")
    p.add_argument("--type", dest="event_type", help="only this system event type")
    p.add_argument(
        "--duress",
        action="store_true",
        help="only the silent duress alerts, which nothing else ever shows",
    )
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS: options may come before or after the command without one hiding the other.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--config",
        type=Path,
        help="config file (default: ./homeguard.yaml, else the bundled example house)",
    )
    common.add_argument(
        "--data-dir",
        type=Path,
        help="where the event store lives "
        "(default: $HOMEGUARD_DATA_DIR or ~/.local/share/homeguard)",
    )
    common.add_argument(
        "--broker", metavar="HOST:PORT", help="use this broker, whatever the config says"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    parser = argparse.ArgumentParser(
        prog="homeguard", description="A home alarm system on MQTT.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"homeguard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    command = partial(_command, sub, common)
    command(
        "up",
        "services:up",
        "run everything: broker if needed, controller, simulated house, siren and light",
    )
    p = command("controller", "services:controller", "run the controller")
    # Set by `up` when it started the broker itself with the generated config.
    p.add_argument("--broker-started-here", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--demo",
        action="store_true",
        help="allow the bundled example house, whose codes are published (no homeguard.yaml)",
    )
    p = command("simulate", "services:simulate", "run the simulated sensors")
    p.add_argument("--sensor", action="append", help="only this sensor (repeatable)")
    _household_options(p)
    command("actuators", "services:actuators", "run the siren and light")
    _evaluate_options(
        command(
            "evaluate",
            "household:evaluate_command",
            "measure anomaly detection and sensor health on a simulated household with "
            "known intrusions and faults (docs/intelligence.md)",
        )
    )
    p = command(
        "sensor", "panel:sensor", "publish one sensor event, e.g. 'homeguard sensor front open'"
    )
    p.add_argument("sensor_id")
    p.add_argument("state", help="open, closed, motion, no_motion, tamper, on, off")
    p = command("arm", "panel:arm", "arm the panel", api="api:arm")
    p.add_argument(
        "mode", choices=[m.name.lower() for m in ArmMode], help="away, home, night or vacation"
    )
    p.add_argument("--code", metavar="CODE", help=CODE_HELP)
    p.add_argument("--force", action="store_true", help="bypass open sensors")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p = command("disarm", "panel:disarm", "disarm the panel", api="api:disarm")
    p.add_argument("--code", metavar="CODE", help=CODE_HELP)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p = command("status", "status:status", "show the panel state and devices", api="api:status")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        help="seconds at most to wait for the retained state (the wait ends as soon as the "
        "broker has sent it all)",
    )
    _events_arguments(command("events", "events:events", "show logged events"))
    command("check-config", "setup:check_config", "validate the config and summarise it")
    p = command("notify-test", "notify:notify_test", "send a test notification to a route (or all)")
    p.add_argument("route", nargs="?", help="a route of notifications.routes (default: all)")
    p = command(
        "broker-config", "setup:broker_config", "write a Mosquitto config that loses nothing"
    )
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--out", type=Path, help="write here instead of standard output")
    command(
        "doctor",
        "setup:doctor",
        "check the broker: reachable, login, queue for an offline controller, latency",
    )
    out_help = "the folder (default: security.provisioned, else <data-dir>/security)"
    p = command(
        "provision",
        "setup:provision_security",
        "create or complete broker logins, ACL, certificates and device secrets",
    )
    p.add_argument("--out", type=Path, help=out_help)
    p = command(
        "revoke", "setup:revoke_device", "revoke a device's login, certificate and secret for good"
    )
    p.add_argument("device", help="a device id, 'controller' or a client name")
    p.add_argument("--out", type=Path, help=out_help)
    return parser
