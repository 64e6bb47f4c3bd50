"""Simulated sensors, as in the classic MQTT security tutorial, and the siren and light.

Each simulated sensor is its own MQTT client, with its own Last Will on
``<base>/devices/<id>/availability``, so that killing one shows as that device going
offline. Doors and windows are state-based (they change at random and report the change),
motion sensors are event-based (motion for a while, then clear); every sensor also sends a
heartbeat so that the controller's supervision knows it is alive.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from homeguard.adapters.codecs import decode_switch
from homeguard.adapters.mqtt import MqttClient, Will
from homeguard.adapters.topics import SiteTopics
from homeguard.core.model import SensorSpec, SensorState, SensorType
from homeguard.core.signals import ActuatorKind
from homeguard.errors import PayloadError
from homeguard.services.message_security import DeviceSigner

log = logging.getLogger("homeguard.devices")


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    """How often simulated sensors act (seconds) and how likely they are to change."""

    heartbeat: float = 20.0
    door_interval: float = 3.0
    door_change_probability: float = 0.3
    motion_interval: float = 2.0
    motion_probability: float = 0.2
    motion_duration: tuple[float, float] = (5.0, 15.0)


class SimulatedSensor:
    """One simulated device publishing on ``<base>/security/<type>/<id>``."""

    def __init__(
        self,
        spec: SensorSpec,
        *,
        topics: SiteTopics,
        client: MqttClient,
        settings: SimulationSettings,
        clock: Callable[[], float],
        rng: random.Random,
        signer: DeviceSigner | None = None,
    ) -> None:
        self.spec = spec
        self._signer = signer
        self._topics = topics
        self._client = client
        self._settings = settings
        self._clock = clock
        self._rng = rng
        self._seq = 0
        self._battery = rng.randint(60, 100)
        self._state = _RESTING[spec.type]

    @staticmethod
    def will(topics: SiteTopics, sensor_id: str) -> Will:
        return Will(topics.availability(sensor_id), "offline", qos=1, retain=True)

    def run(self, stop: threading.Event) -> None:
        spec, topics = self.spec, self._topics
        announcement = {
            "device_id": spec.id,
            "type": spec.type.value,
            "capabilities": ["state", "heartbeat", "battery"],
            "timestamp": self._clock(),
        }
        self._client.publish(topics.announce(spec.id), json.dumps(announcement), qos=1, retain=True)
        self._client.publish(topics.availability(spec.id), "online", qos=1, retain=True)
        connections = self._client.connection_count
        self.report(self._state)
        next_heartbeat = self._clock() + self._settings.heartbeat
        motion_until: float | None = None
        while not stop.is_set():
            now = self._clock()
            if self._client.connection_count != connections:
                # Back after a lost connection, whose Last Will said offline (a session
                # taken over by `homeguard sensor`, say): say online, as devices do.
                connections = self._client.connection_count
                self._client.publish(topics.availability(spec.id), "online", qos=1, retain=True)
            if spec.type in (SensorType.DOOR, SensorType.WINDOW):
                if self._rng.random() < self._settings.door_change_probability:
                    opened = self._state is SensorState.CLOSED
                    self.report(SensorState.OPEN if opened else SensorState.CLOSED)
                interval = self._settings.door_interval
            elif spec.type is SensorType.MOTION:
                if motion_until is not None and now >= motion_until:
                    motion_until = None
                    self.report(SensorState.NO_MOTION)
                elif (
                    motion_until is None and self._rng.random() < self._settings.motion_probability
                ):
                    motion_until = now + self._rng.uniform(*self._settings.motion_duration)
                    self.report(SensorState.MOTION)
                interval = self._settings.motion_interval
            else:
                interval = self._settings.heartbeat  # tamper, smoke...: quiet unless driven
            if now >= next_heartbeat:
                self.report(None)
                next_heartbeat = now + self._settings.heartbeat
            stop.wait(min(interval, max(0.05, next_heartbeat - now)))

    def report(self, state: SensorState | None) -> None:
        """Publish a state (or, with None, a heartbeat) as JSON with seq, ts and battery;
        signed (and sealed) when the sensor is configured so."""
        now = self._clock()
        self._seq += 1
        if self._signer is not None:
            # The controller keeps the last seq across restarts, and so must a device:
            # one without storage counts in milliseconds of the clock (docs/security.md).
            self._seq = max(self._seq, int(now * 1000))
        body: dict[str, object] = {"seq": self._seq, "ts": now, "battery": self._battery}
        if state is not None:
            self._state = state
            body["state"] = state.value
        payload = (
            json.dumps(body).encode() if self._signer is None else self._signer.payload(body, now)
        )
        self._client.publish(
            self._topics.sensor(self.spec.type.value, self.spec.id), payload, qos=1
        )


_RESTING = {
    SensorType.DOOR: SensorState.CLOSED,
    SensorType.WINDOW: SensorState.CLOSED,
    SensorType.MOTION: SensorState.NO_MOTION,
    SensorType.TAMPER: SensorState.OFF,
    SensorType.PANIC: SensorState.OFF,
    SensorType.SMOKE: SensorState.OFF,
    SensorType.WATER: SensorState.OFF,
}


class Actuators:
    """The siren and the light: obey ``<base>/control/alarm`` and ``.../light``, show it
    unmistakably, and publish the state they are really in on ``.../<id>/state``."""

    def __init__(
        self,
        *,
        topics: SiteTopics,
        actuators: Sequence[tuple[str, ActuatorKind]],
        out: TextIO | None = None,
    ) -> None:
        self._topics = topics
        self._by_topic: dict[str, list[str]] = {}
        self._kinds = dict(actuators)
        for actuator_id, kind in actuators:
            self._by_topic.setdefault(topics.control(kind), []).append(actuator_id)
        self._out = out or sys.stdout
        self.states: dict[str, bool] = {}

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        return [(topic, 2) for topic in self._by_topic]

    def run(self, client: MqttClient, stop: threading.Event) -> None:
        for actuator_id in self._kinds:
            client.publish(self._topics.availability(actuator_id), "online", qos=1, retain=True)
            self._set(client, actuator_id, False)
        while not stop.is_set():
            try:
                message = client.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                on = decode_switch(message.payload)
            except PayloadError as exc:
                log.warning("ignored command on %s: %s", message.topic, exc)
                continue
            for actuator_id in self._by_topic.get(message.topic, ()):
                self._set(client, actuator_id, on)

    def _set(self, client: MqttClient, actuator_id: str, on: bool) -> None:
        changed = self.states.get(actuator_id) != on
        self.states[actuator_id] = on
        client.publish(self._topics.actuator_state(actuator_id), "ON" if on else "OFF", 1, True)
        if changed:
            self._show(actuator_id, self._kinds[actuator_id], on)

    def _show(self, actuator_id: str, kind: ActuatorKind, on: bool) -> None:
        if kind is ActuatorKind.SIREN and on:
            bar = "!" * 60
            text = (
                f"\a\n{bar}\n!!!{'SIREN ' + actuator_id.upper() + ' IS SOUNDING':^54}!!!\n{bar}\n"
            )
            if self._out.isatty():
                text = f"\033[1;41;97m{text}\033[0m"
        else:
            word = "ON" if on else "off"
            text = f"[{kind.value} {actuator_id}] {word}\n"
        self._out.write(text)
        self._out.flush()
