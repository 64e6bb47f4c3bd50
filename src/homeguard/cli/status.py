"""``homeguard status``: the panel's state, the controller and every device, from
what the broker keeps retained, and what needs attention, from the event store here
(``--api``: through the dashboard's HTTP API instead, :mod:`.api`)."""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import time
from typing import Any

from homeguard.adapters.clock import wall_clock
from homeguard.adapters.codecs import decode_availability
from homeguard.adapters.http_api import lenient_json_object
from homeguard.adapters.mqtt import Message, MqttClient
from homeguard.adapters.topics import availability_topics
from homeguard.cli import notify
from homeguard.cli.site import load_site
from homeguard.cli.uplink import uplink_line, uplink_report
from homeguard.errors import PayloadError
from homeguard.services.health import device_health
from homeguard.site import Site, quiet_client

_TROUBLES = {"storage": " (the event store cannot write: events are kept in memory)"}


def status(args: argparse.Namespace) -> int:
    site = load_site(args, codes=False)
    topics = site.topics
    # Every configured sensor is listed, whatever its family: by the contract's
    # availability topic or its family's own (zigbee2mqtt/<dev>/availability, LWT...).
    family_topics: dict[str, list[str]] = {}  # one bridge's LWT speaks for its sensors
    for sensor in site.config.sensors:
        for topic in availability_topics(sensor.binding()):
            family_topics.setdefault(topic, []).append(sensor.id)
    # QoS 0: retained messages then come without an acknowledgement each (nor, from a
    # stock Mosquitto, 20 unacknowledged at a time); and a stock Mosquitto (2.0.11,
    # measured) sent 20,000 of them, where at QoS 1 it dropped all past its 1,000
    # queued per client.
    subscriptions = [
        (topics.alarm_state, 0),
        (topics.status, 0),
        (topics.controller_availability, 0),
        (topics.availability("+"), 0),
        (topics.actuator_state("+"), 0),
        *((topic, 0) for topic in family_topics),
    ]
    with quiet_client(site, "status", subscriptions) as client:
        messages = _retained(client, _marker(site), args.timeout)
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
    report["maintenance"] = attention(site)
    report["uplink"] = uplink_report(site)
    report["notifications"] = notify.deliveries(site)
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
    unlisted = int(status.get("troubles_total") or 0) - len(troubles)
    if unlisted > 0:  # the retained status names the first 1,000 (docs/topics.md)
        print(f"trouble:    {unlisted} more sensors in trouble (homeguard status --api lists all)")
    for entry in report["maintenance"]:
        print(f"service:    {entry['device']} ({entry['health']}: {entry['reason']})")
    if report["uplink"] is not None:
        print(f"uplink:     {uplink_line(report['uplink'])}")
    notify.print_deliveries(report["notifications"])
    return 0


def attention(site: Site) -> list[dict[str, object]]:
    """The devices that need a visit now (``homeguard status``), from the event store
    when there is one here."""
    if not site.store_path.exists():
        return []
    with site.open_store() as store:
        ids = [sensor.id for sensor in site.settings.sensors]
        healths = device_health(store, ids, wall_clock(), reported_only=True)
    return [h.as_dict() for h in healths if h.state.needs_attention]


def _marker(site: Site) -> str:
    """A topic of this run's own, which the site's user account may use."""
    account = site.user_account or "cli"
    return f"{site.topics.client(account)}/status/{os.getpid()}-{secrets.token_hex(4)}"


def _retained(client: MqttClient, marker: str, timeout: float) -> list[Message]:
    """The retained messages of ``client``'s subscriptions: what arrives before the
    message it sends itself on ``marker`` comes back, or within ``timeout`` seconds.

    Mosquitto queues a subscription's retained messages as it handles the SUBSCRIBE,
    and handles a client's packets in order: a message published to ourselves after
    subscribing comes back behind all of them. It never comes back when the broker
    does not let the account use ``marker`` (an ACL from before ``<base>/clients/``),
    or drops it from a full queue: then the timeout ends the wait."""
    if client.subscribe_once(marker, qos=1):
        client.publish(marker, b"end", qos=1)
    got = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = client.messages.get(timeout=left)
        except queue.Empty:
            break
        if message.topic == marker:
            break
        got.append(message)
    return got
