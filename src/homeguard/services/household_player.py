"""A simulated household, played into a running system over MQTT (sped up), or written
straight into an event store.

Over MQTT each sensor report goes out as the topic contract's JSON (``state``, ``seq``,
``ts``, ``battery``, ``linkquality``) on ``<base>/security/<type>/<id>``, from the
sensor's own client (signed when the sensor signs), ``speed`` simulated seconds per real
second; ``ts`` is the wall clock at sending, so the controller sees live devices. The
panel is left alone: arming needs a code, and the household's arming is in the store
version only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from homeguard.core.household import Household
from homeguard.core.records import Batch, SensorRecord, SystemRecord, WriteResult

CHUNK = 5000  # records per transaction when writing into a store


class Writer(Protocol):
    def write(self, batch: Batch) -> WriteResult: ...


class Publisher(Protocol):
    def publish(
        self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False
    ) -> None: ...


def write_into(store: Writer, household: Household) -> tuple[int, int]:
    """Write the household's sensor and system events; returns how many of each were
    stored (a second run with the same seed stores no sensor event twice)."""
    sensors = systems = 0
    for sensor_chunk, system_chunk in _chunks(household):
        result = store.write(Batch(sensor_events=sensor_chunk, system_events=system_chunk))
        sensors += result.sensor_stored
        systems += result.system_stored
    return sensors, systems


def _chunks(household: Household) -> Iterator[tuple[list[SensorRecord], list[SystemRecord]]]:
    events = household.sensor_events
    system = list(household.system_events)
    for start in range(0, len(events), CHUNK):
        chunk = list(events[start : start + CHUNK])
        until = events[start + CHUNK].ts if start + CHUNK < len(events) else float("inf")
        taken = [r for r in system if r.ts < until]
        system = system[len(taken) :]
        yield chunk, taken


def play(
    household: Household,
    *,
    clients: Mapping[str, Publisher],
    topic: Callable[[SensorRecord], str],
    sign: Mapping[str, Callable[[dict[str, object], float], bytes]],
    speed: float,
    clock: Callable[[], float],
    stop: threading.Event,
) -> int:
    """Publish the household's reports in simulated time divided by ``speed``, until
    done or ``stop``; returns how many were published."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    began = clock()
    first = household.spec.start
    sent = 0
    for record in household.sensor_events:
        wait = began + (record.ts - first) / speed - clock()
        if wait > 0 and stop.wait(wait):
            break
        if stop.is_set():
            break
        client = clients.get(record.device_id)
        if client is None:
            continue
        meta = record.metadata or {}
        now = clock()
        body: dict[str, object] = {"state": record.state, "seq": meta.get("seq"), "ts": now}
        for name in ("battery", "linkquality"):
            if name in meta:
                body[name] = meta[name]
        signer = sign.get(record.device_id)
        payload = signer(body, now) if signer is not None else json.dumps(body).encode()
        client.publish(topic(record), payload, qos=1)
        sent += 1
    return sent
