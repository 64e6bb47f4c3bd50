"""``homeguard status|arm|disarm --api URL``: the same commands through the HTTP API
instead of MQTT (the password comes from ``$HOMEGUARD_PASSWORD``, never the command
line, where other users of the machine could read it). Neither the config nor MQTT is
loaded here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from homeguard.adapters.http_api import ApiClient
from homeguard.cli import notify
from homeguard.cli.codes import read_code
from homeguard.cli.parser import PASSWORD_VARIABLE
from homeguard.core.modes import ArmMode
from homeguard.errors import CommandRejected


def _client(args: argparse.Namespace) -> ApiClient:
    return ApiClient(
        args.api,
        user=args.user,
        password=os.environ.get(PASSWORD_VARIABLE),
        timeout=max(float(getattr(args, "timeout", 10.0)), 10.0),
    )


def status(args: argparse.Namespace) -> int:
    state = _client(args).state()
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    system = state.get("system", {})
    print(f"panel:      {state['state']}")
    print(
        f"broker:     {system.get('broker')} "
        + ("(connected)" if system.get("broker_connected") else "(DISCONNECTED)")
    )
    if state.get("triggered_by"):
        print(f"breach:     {', '.join(state['triggered_by'])}")
    for part in state.get("system_troubles", {}):
        waiting = system.get("store_waiting") if part == "storage" else None
        print(f"trouble:    {part}" + (f" ({waiting} events waiting)" if waiting else ""))
    for actuator in state.get("actuators", []):
        on = actuator.get("on")
        print(f"{actuator['id'] + ':':<11} {'unknown' if on is None else 'ON' if on else 'OFF'}")
    for sensor in state.get("sensors", []):
        trouble = f" ({sensor['trouble']})" if sensor.get("trouble") else ""
        print(f"  {sensor['id']:<12} {sensor['status']}{trouble}")
    notify.print_deliveries({"counts": system.get("notifications")})
    return 0


def arm(args: argparse.Namespace) -> int:
    args.code = read_code(args.code, ask=True)
    mode = ArmMode[args.mode.upper()].value
    return _command(lambda client: client.arm(mode, args.code, args.force), args)


def disarm(args: argparse.Namespace) -> int:
    args.code = read_code(args.code, ask=True)
    return _command(lambda client: client.disarm(args.code), args)


def _command(send: Callable[[ApiClient], dict[str, Any]], args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        result = send(client)
    except CommandRejected as exc:
        blocking = f" ({', '.join(exc.sensors)})" if exc.sensors else ""
        print(f"refused: {exc}{blocking}", file=sys.stderr)
        return 2
    print(f"panel: {result['state']}")
    return 0
