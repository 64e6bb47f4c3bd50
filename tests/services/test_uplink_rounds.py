"""The uplink's rounds on a real store and a fake client: no broker, every step seen."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.adapters.store import EventStore
from homeguard.adapters.store.uplink import UplinkOutbox
from homeguard.core.records import Batch, SensorRecord, SystemRecord
from homeguard.services.uplink import ACK_POLL, Uplink, UplinkSettings

SETTINGS = UplinkSettings(
    site="s1",
    topic="up/events",
    alarm_topic="up/alarms",
    batch_size=3,
    batch_interval=10.0,
    alarm_events=frozenset({"triggered"}),
)


class FakeUpstream:
    """What the uplink sees of its MQTT client: connected or not, and what it holds
    unacknowledged; PUBACKs come when the test says so."""

    def __init__(self) -> None:
        self.connected = True
        self.published: list[tuple[str, dict[str, Any], bool]] = []
        self.unpublished = 0

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        *,
        urgent: bool = False,
    ) -> None:
        assert qos == 1 and not retain
        self.published.append((topic, json.loads(payload), urgent))
        self.unpublished += 1

    def puback_all(self) -> None:
        self.unpublished = 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore(tmp_path / "events.db") as opened:
        yield opened


def door(ts: float) -> SensorRecord:
    return SensorRecord(ts, "door", "front", "OPEN")


def uplink(store: EventStore, now: list[float]) -> Uplink:
    outbox = UplinkOutbox(store)
    outbox.open(duress=False)
    never: Callable[..., MqttClient] = lambda _change: pytest.fail("no connection here")  # noqa: E731
    return Uplink(
        outbox=outbox,
        connect=never,
        settings=SETTINGS,
        clock=lambda: 1000.0 + now[0],
        monotonic=lambda: now[0],
    )


def test_a_batch_waits_for_its_size_or_interval_and_the_cursor_for_the_puback(
    store: EventStore,
) -> None:
    now = [0.0]
    worker, client = uplink(store, now), FakeUpstream()
    run = lambda: worker.round(cast(MqttClient, client))  # noqa: E731
    store.write(Batch(sensor_events=[door(1.0), door(2.0)]))
    run()
    assert client.published == []  # 2 < batch_size, interval not over
    now[0] = 10.0
    assert run() == ACK_POLL
    ((topic, body, urgent),) = client.published
    assert (topic, body["batch"], body["first_seq"], body["last_seq"], urgent) == (
        "up/events",
        1,
        1,
        2,
        False,
    )
    store.write(Batch(sensor_events=[door(3.0), door(4.0), door(5.0)]))
    run()
    assert len(client.published) == 1  # one batch in flight at a time
    assert worker.status().sent_seq == 0  # no PUBACK yet: the cursor stays
    client.puback_all()
    run()
    assert worker.status().sent_seq == 2
    assert [b["first_seq"] for _, b, _ in client.published] == [1, 3]  # full: at once
    client.puback_all()
    run()
    status = worker.status()
    assert (status.sent_seq, status.batches, status.backlog) == (5, 2, 0)
    assert status.last_sent_at == 1010.0


def test_no_batch_while_disconnected_but_the_alarm_goes_urgent_at_once(
    store: EventStore,
) -> None:
    now = [0.0]
    worker, client = uplink(store, now), FakeUpstream()
    client.connected = False
    store.write(Batch(sensor_events=[door(float(t)) for t in range(10)]))
    store.write(Batch(system_events=[SystemRecord(11.0, "triggered", "alarm", {"sensors": []})]))
    worker.round(cast(MqttClient, client))
    ((topic, body, urgent),) = client.published
    assert (topic, body["type"], body["event"]["seq"], urgent) == ("up/alarms", "alarm", 11, True)
    worker.round(cast(MqttClient, client))
    assert len(client.published) == 1  # the alarm is sent once; the batches wait
    client.connected = True
    client.puback_all()
    for _ in range(6):
        worker.round(cast(MqttClient, client))
        client.puback_all()
    batches = [b for _, b, _ in client.published if b["type"] == "batch"]
    seqs = [e["seq"] for b in batches for e in b["events"]]
    assert seqs == list(range(1, 12))  # the alarm again, in its place
    assert worker.status().backlog == 0


def test_alarms_still_unsent_at_a_restart_are_sent_again_first(store: EventStore) -> None:
    now = [0.0]
    first, client = uplink(store, now), FakeUpstream()
    client.connected = False
    store.write(Batch(sensor_events=[door(0.5), door(0.7)]))
    store.write(Batch(system_events=[SystemRecord(1.0, "triggered", "alarm", None)]))
    first.round(cast(MqttClient, client))
    again, client = uplink(store, now), FakeUpstream()  # a restart: a new worker
    again.resume()
    again.round(cast(MqttClient, client))
    assert [(b["type"], u) for _, b, u in client.published] == [("alarm", True), ("batch", False)]
    assert client.published[0][1]["event"]["seq"] == 3
