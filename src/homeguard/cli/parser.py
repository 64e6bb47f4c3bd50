"""The ``homeguard`` command line: every command, its options and the function it runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from homeguard import __version__
from homeguard.cli import household
from homeguard.cli.api import add_api_options
from homeguard.cli.codes import CODE_VARIABLE
from homeguard.cli.events import events
from homeguard.cli.panel import arm, disarm, sensor, status
from homeguard.cli.services import actuators, controller, simulate, up
from homeguard.cli.setup import (
    broker_config,
    check_config,
    doctor,
    provision_security,
    revoke_device,
)
from homeguard.core.model import ArmMode

SERVICES = {"up", "controller", "simulate", "actuators"}
CODE_HELP = (
    f"'-': read your code from standard input. Without it: ${CODE_VARIABLE}, else a "
    "prompt. A code written here is visible to every user of the machine (ps): unsafe"
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

    def command(
        name: str, run: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=text, description=text)
        p.set_defaults(run=run)
        return p

    command(
        "up", up, "run everything: broker if needed, controller, simulated house, siren and light"
    )
    p = command("controller", controller, "run the controller")
    # Set by `up` when it started the broker itself with the generated config.
    p.add_argument("--broker-started-here", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--demo",
        action="store_true",
        help="allow the bundled example house, whose codes are published (no homeguard.yaml)",
    )
    p = command("simulate", simulate, "run the simulated sensors")
    p.add_argument("--sensor", action="append", help="only this sensor (repeatable)")
    household.add_options(p)
    command("actuators", actuators, "run the siren and light")
    household.add_evaluate_options(
        command(
            "evaluate",
            household.evaluate_command,
            "measure anomaly detection and sensor health on a simulated household with "
            "known intrusions and faults (docs/intelligence.md)",
        )
    )
    p = command("sensor", sensor, "publish one sensor event, e.g. 'homeguard sensor front open'")
    p.add_argument("sensor_id")
    p.add_argument("state", help="open, closed, motion, no_motion, tamper, on, off")
    p = add_api_options(command("arm", arm, "arm the panel"))
    p.add_argument(
        "mode", choices=[m.name.lower() for m in ArmMode], help="away, home, night or vacation"
    )
    p.add_argument("--code", metavar="CODE", help=CODE_HELP)
    p.add_argument("--force", action="store_true", help="bypass open sensors")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p = add_api_options(command("disarm", disarm, "disarm the panel"))
    p.add_argument("--code", metavar="CODE", help=CODE_HELP)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p = add_api_options(command("status", status, "show the panel state and devices"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for retained state")
    _events_arguments(command("events", events, "show logged events"))
    command("check-config", check_config, "validate the config and summarise it")
    p = command("broker-config", broker_config, "write a Mosquitto config that loses nothing")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--out", type=Path, help="write here instead of standard output")
    command(
        "doctor",
        doctor,
        "check the broker: reachable, login, queue for an offline controller, latency",
    )
    out_help = "the folder (default: security.provisioned, else <data-dir>/security)"
    p = command(
        "provision",
        provision_security,
        "create or complete broker logins, ACL, certificates and device secrets",
    )
    p.add_argument("--out", type=Path, help=out_help)
    p = command("revoke", revoke_device, "revoke a device's login, certificate and secret for good")
    p.add_argument("device", help="a device id, 'controller' or a client name")
    p.add_argument("--out", type=Path, help=out_help)
    return parser
