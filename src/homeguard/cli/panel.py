"""``homeguard sensor|arm|disarm``: publish to the panel over MQTT and read its answer
(``--api``: through the dashboard's HTTP API instead, :mod:`.api`)."""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from typing import Any

from homeguard.adapters.clock import wall_clock
from homeguard.adapters.codecs import Family, decode_sensor
from homeguard.adapters.http_api import lenient_json_object
from homeguard.adapters.mqtt import Message
from homeguard.cli.codes import read_code
from homeguard.cli.site import load_site
from homeguard.core.model import Action, ArmMode
from homeguard.errors import HomeguardError
from homeguard.services.message_security import DeviceSigner, load_security
from homeguard.site import quiet_client

_REFUSALS = {"failed_to_arm", "invalid_code", "locked_out", "not_authorized", "command_rejected"}


def sensor(args: argparse.Namespace) -> int:
    site = load_site(args, codes=False)
    spec = site.settings.sensor(args.sensor_id)
    if spec is None:
        known = ", ".join(s.id for s in site.settings.sensors)
        raise HomeguardError(f"no sensor {args.sensor_id!r} in the config (known: {known})")
    payload = args.state.strip().upper().encode()
    decode_sensor(Family.HOMEGUARD, spec.type, payload)  # a clear error for a wrong state
    topic = site.topics.sensor(spec.type.value, spec.id)
    shown = payload.decode()
    keys = load_security(site.config, site.data_dir).keys
    if spec.id in keys:  # a signing sensor: sign (and seal) as the device would
        now = wall_clock()
        body = {"state": shown, "seq": int(now * 1000), "ts": now}
        payload = DeviceSigner(spec.id, keys[spec.id]).payload(body, now)
        shown += " (signed)"
    with quiet_client(site, "sensor", account=spec.id) as client:
        client.publish(topic, payload, qos=1)
    print(f"{topic} {shown}")
    return 0


def arm(args: argparse.Namespace) -> int:
    args.code = read_code(args.code, ask=_codes_asked(args, arming=True))
    action = Action[f"ARM_{args.mode.upper()}"]
    mode = ArmMode[args.mode.upper()]
    return _command(args, {"action": action.value, "force": args.force}, {"arming", mode.value})


def disarm(args: argparse.Namespace) -> int:
    args.code = read_code(args.code, ask=_codes_asked(args, arming=False))
    return _command(args, {"action": Action.DISARM.value}, {"disarmed"})


def _codes_asked(args: argparse.Namespace, *, arming: bool) -> bool:
    """Whether the panel may want a code: it has users, and this is a disarm or arming
    needs a code. (Only then is there a prompt.)"""
    config = load_site(args, codes=False).config
    return bool(config.users) and (not arming or config.panel.code_arm_required)


def _command(args: argparse.Namespace, body: dict[str, Any], success: set[str]) -> int:
    """Publish a panel command, then wait for the controller's answer."""
    site = load_site(args, codes=False)
    if args.code is not None:
        body["code"] = args.code
    topics = site.topics
    subscriptions = [(topics.alarm_event, 1), (topics.alarm_state, 1)]
    with quiet_client(site, "command", subscriptions) as client:
        _drain_retained(client.messages, 0.3)
        client.publish(topics.alarm_set, json.dumps(body), qos=1)
        deadline = time.monotonic() + args.timeout
        state = None
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = client.messages.get(timeout=left)
            except queue.Empty:
                break
            if message.topic == topics.alarm_state:
                state = message.payload.decode(errors="replace")
                if state in success:
                    print(f"panel: {state}")
                    return 0
                continue
            event = lenient_json_object(message.payload)
            kind = event.get("event")
            if kind in _REFUSALS:
                print(f"refused: {event.get('description', kind)}", file=sys.stderr)
                return 2
    if state is not None:
        print(f"panel: {state}")
        return 0
    raise HomeguardError("no answer from the controller (is it running?)")


def _drain_retained(messages: queue.Queue[Message], seconds: float) -> list[Message]:
    """Collect what arrives in the first moments after subscribing (retained values)."""
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(messages.get(timeout=left))
        except queue.Empty:
            break
    return got
