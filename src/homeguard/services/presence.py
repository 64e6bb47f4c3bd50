"""One controller per site: who runs it, and whether one is alive already.

A running controller holds a lock in its data directory (the kernel drops it however
the process ends) and says who it is on ``<base>/alarm/controller`` every `HEARTBEAT`
seconds (QoS 0, not retained: only a live controller is ever heard there). A starting
controller refuses to run when that lock is held, or when the broker's retained
``<base>/alarm/availability`` says ``online`` and a heartbeat follows within
`LIVENESS_WAIT` seconds. A crash never blocks a restart: the lock dies with the
process, the broker publishes the Last Will (``offline``) when the connection drops,
and a stale retained ``online`` (a broker that lost the Will) only delays the start by
`LIVENESS_WAIT` seconds.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import SiteTopics

log = logging.getLogger("homeguard.presence")

__all__ = ["HEARTBEAT", "LIVENESS_WAIT", "Identity", "heartbeat", "live_controller"]

HEARTBEAT = 2.0  # seconds between a running controller's heartbeats
LIVENESS_WAIT = 2.5 * HEARTBEAT  # how long a retained "online" is given to prove itself
RETAINED_WAIT = 0.3  # for the broker's retained availability, right after subscribing


@dataclass(frozen=True, slots=True)
class Identity:
    """Who runs a site's controller: enough for a person to find and stop it."""

    client_id: str
    host: str
    pid: int
    started: float
    data_dir: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, payload: bytes) -> Identity | None:
        try:
            data = json.loads(payload)
            return cls(
                client_id=str(data["client_id"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                started=float(data["started"]),
                data_dir=str(data["data_dir"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started).strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"client id {self.client_id}, pid {self.pid} on {self.host}, "
            f"since {since}, data in {self.data_dir}"
        )


def live_controller(
    messages: queue.Queue[Message],
    topics: SiteTopics,
    *,
    wait: float = LIVENESS_WAIT,
    clock: Callable[[], float] = time.monotonic,
) -> Identity | None:
    """The controller alive on the broker, or None, from the messages of a client just
    subscribed to ``topics.controller_availability`` and ``topics.controller_heartbeat``."""
    end = clock() + RETAINED_WAIT
    waited = False
    while (left := end - clock()) > 0:
        try:
            message = messages.get(timeout=left)
        except queue.Empty:
            break
        if message.topic == topics.controller_heartbeat:
            found = Identity.from_json(message.payload)
            if found is not None:
                return found
        elif message.topic == topics.controller_availability:
            if message.payload.strip().lower() != b"online":
                return None  # it said offline (or its Last Will did): nobody runs
            if not waited:
                waited = True
                end = clock() + wait
                log.info(
                    "the broker says a controller for %r is online: waiting up to %g s "
                    "for its heartbeat",
                    topics.base,
                    wait,
                )
    if waited:
        log.warning(
            "no controller for %r answered within %g s: its retained 'online' is stale "
            "(a crash the broker missed); starting",
            topics.base,
            wait,
        )
    return None


class _Client(Protocol):
    @property
    def connected(self) -> bool: ...
    def publish(
        self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False
    ) -> None: ...


def heartbeat(client: _Client, topic: str, identity: Identity, stop: threading.Event) -> None:
    """Say who we are on ``topic`` every `HEARTBEAT` seconds until ``stop`` is set."""
    payload = identity.to_json()
    while True:
        if client.connected:  # QoS 0 while disconnected would only be dropped
            client.publish(topic, payload, qos=0)
        if stop.wait(HEARTBEAT):
            return
