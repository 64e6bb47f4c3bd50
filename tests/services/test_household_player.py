"""Playing a simulated household: every report, in order, as the topic contract's JSON."""

from __future__ import annotations

import json
import threading
import time

from homeguard.core.household import HouseholdSpec, simulate_household
from homeguard.services.household_player import play


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | str, int]] = []

    def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, payload, qos))


def test_every_report_is_published_in_order_with_seq_and_battery() -> None:
    household = simulate_household(HouseholdSpec(days=1, seed=2, faults=0))
    recorder = Recorder()
    clients = {s.id: recorder for s in household.sensors}
    sent = play(
        household,
        clients=clients,
        topic=lambda r: f"home/security/{r.sensor_type}/{r.device_id}",
        sign={},
        speed=1e9,
        clock=time.time,
        stop=threading.Event(),
    )
    assert sent == len(household.sensor_events) == len(recorder.sent)
    for record, (topic, payload, qos) in zip(household.sensor_events, recorder.sent, strict=True):
        body = json.loads(payload)
        assert topic == f"home/security/{record.sensor_type}/{record.device_id}"
        assert qos == 1
        assert body["state"] == record.state
        assert body["seq"] == record.metadata["seq"]  # type: ignore[index]
        assert body["battery"] == record.metadata["battery"]  # type: ignore[index]


def test_a_stopped_player_publishes_nothing_more() -> None:
    household = simulate_household(HouseholdSpec(days=1, seed=2, faults=0))
    stop = threading.Event()
    stop.set()
    recorder = Recorder()
    sent = play(
        household,
        clients={s.id: recorder for s in household.sensors},
        topic=lambda r: r.device_id,
        sign={},
        speed=1.0,
        clock=time.time,
        stop=stop,
    )
    assert sent == 0 and not recorder.sent
