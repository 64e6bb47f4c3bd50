"""``homeguard sensor|arm|disarm|status``: publish to the panel over MQTT and read its
answer (``--api``: through the dashboard's HTTP API instead, :mod:`.api`)."""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from typing import Any

from homeguard.adapters.clock import wall_clock
from homeguard.adapters.codecs import Family, decode_availability, decode_sensor
from homeguard.adapters.http_api import lenient_json_object
from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import availability_topics
from homeguard.app import quiet_client
from homeguard.cli import api as cli_api
from homeguard.cli import household
from homeguard.cli.codes import read_code
from homeguard.cli.site import load_site
from homeguard.cli.uplink import uplink_line, uplink_report
from homeguard.core.model import Action, ArmMode
from homeguard.errors import HomeguardError, PayloadError
from homeguard.services.message_security import DeviceSigner, load_security

_REFUSALS = {"failed_to_arm", "invalid_code", "locked_out", "not_authorized", "command_rejected"}


def sensor(args: argparse.Namespace) -> int:
    site = load_site(args)
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
    ask = bool(args.api) or _codes_asked(args, arming=True)
    args.code = read_code(args.code, ask=ask)
    if args.api:
        return cli_api.arm(args, ArmMode[args.mode.upper()].value)
    action = Action[f"ARM_{args.mode.upper()}"]
    mode = ArmMode[args.mode.upper()]
    return _command(args, {"action": action.value, "force": args.force}, {"arming", mode.value})


def disarm(args: argparse.Namespace) -> int:
    args.code = read_code(args.code, ask=bool(args.api) or _codes_asked(args, arming=False))
    if args.api:
        return cli_api.disarm(args)
    return _command(args, {"action": Action.DISARM.value}, {"disarmed"})


def _codes_asked(args: argparse.Namespace, *, arming: bool) -> bool:
    """Whether the panel may want a code: it has users, and this is a disarm or arming
    needs a code. (Only then is there a prompt.)"""
    config = load_site(args).config
    return bool(config.users) and (not arming or config.panel.code_arm_required)


def _command(args: argparse.Namespace, body: dict[str, Any], success: set[str]) -> int:
    """Publish a panel command, then wait for the controller's answer."""
    site = load_site(args)
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


_TROUBLES = {"storage": " (the event store cannot write: events are kept in memory)"}


def status(args: argparse.Namespace) -> int:
    if args.api:
        return cli_api.status(args)
    site = load_site(args)
    topics = site.topics
    # Every configured sensor is listed, whatever its family: by the contract's
    # availability topic or its family's own (zigbee2mqtt/<dev>/availability, LWT...).
    family_topics: dict[str, list[str]] = {}  # one bridge's LWT speaks for its sensors
    for sensor in site.config.sensors:
        for topic in availability_topics(sensor.binding()):
            family_topics.setdefault(topic, []).append(sensor.id)
    subscriptions = [
        (topics.alarm_state, 1),
        (topics.status, 1),
        (topics.controller_availability, 1),
        (topics.availability("+"), 1),
        (topics.actuator_state("+"), 1),
        *((topic, 1) for topic in family_topics),
    ]
    with quiet_client(site, "status", subscriptions) as client:
        messages = _drain_retained(client.messages, args.timeout)
    report: dict[str, Any] = {
        "state": None,
        "controller": None,
        "status": None,
        "devices": {sensor.id: "unknown" for sensor in site.config.sensors},
        "actuators": {},
    }
    for message in messages:
        text = message.payload.decode(errors="replace")
        if message.topic in family_topics:
            try:
                online = decode_availability(message.payload)
            except PayloadError:
                continue
            for sensor_id in family_topics[message.topic]:
                report["devices"][sensor_id] = "online" if online else "offline"
        elif message.topic == topics.alarm_state:
            report["state"] = text
        elif message.topic == topics.controller_availability:
            report["controller"] = text
        elif message.topic == topics.status:
            report["status"] = lenient_json_object(message.payload)
        elif message.topic.endswith("/availability"):
            report["devices"][message.topic.split("/")[-2]] = text
        elif message.topic.endswith("/state"):
            report["actuators"][message.topic.split("/")[-2]] = text
    report["maintenance"] = household.attention(site)
    report["uplink"] = uplink_report(site)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"panel:      {report['state'] or 'unknown (no controller has published)'}")
    print(f"controller: {report['controller'] or 'unknown'}")
    status = report["status"] or {}
    if status.get("breaches"):
        print(f"breach:     {', '.join(map(str, status['breaches']))}")
    for part in status.get("system_troubles", []):
        print(f"trouble:    {part}{_TROUBLES.get(part, '')}")
    for name, value in sorted(report["actuators"].items()):
        print(f"{name + ':':<11} {value}")
    troubles = status.get("troubles") or {}
    for device, value in sorted(report["devices"].items()):
        trouble = f" ({troubles[device]})" if device in troubles else ""
        print(f"  {device:<12} {value}{trouble}")
    for entry in report["maintenance"]:
        print(f"service:    {entry['device']} ({entry['health']}: {entry['reason']})")
    if report["uplink"] is not None:
        print(f"uplink:     {uplink_line(report['uplink'])}")
    return 0
