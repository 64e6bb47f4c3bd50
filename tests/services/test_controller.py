"""The controller's real path, one turn at a time, with fakes for the broker (the
``Publisher`` protocol) and the store (``EventLog``) that write what happens, in order,
into one log: a message comes in, the intake reads it, the engine decides, the effects
are published, the turn is committed, and only then is the message acknowledged."""

from __future__ import annotations

import json
import queue
from typing import Any

import pytest

from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import SensorBinding, SiteTopics, TopicMap
from homeguard.core import signing, snapshot
from homeguard.core.codes import hash_pin
from homeguard.core.model import (
    ArmMode,
    ModeTiming,
    PanelSettings,
    PanelState,
    SensorSpec,
    SensorState,
    SensorType,
    User,
    ZoneKind,
)
from homeguard.core.records import Batch
from homeguard.errors import StoreUnavailable
from homeguard.services.controller import Controller, Inbox
from homeguard.services.message_security import DeviceKey, MessageSecurity
from homeguard.services.outbound import Outbound

T0 = 1764288000.0
PIN = "1234"
SECRET = b"cellar-secret-0123456789"
SETTINGS = PanelSettings(
    sensors=(
        SensorSpec("front", SensorType.DOOR, zone=ZoneKind.ENTRY),
        SensorSpec("cellar", SensorType.DOOR, zone=ZoneKind.PERIMETER),
    ),
    users=(User("alice", hash_pin(PIN, b"0123456789abcdef", log2_n=2, r=1)),),
    modes={mode: ModeTiming(exit_delay=0, entry_delay=30, siren_time=60) for mode in ArmMode},
)
FRONT = "home/security/door/front"
CELLAR = "home/security/door/cellar"
SIREN = "home/control/alarm"
LIGHT = "home/control/light"


class FakeBroker:
    """The MQTT client: what is published and acknowledged goes into the shared log."""

    connection_count = 1
    session_contested = False

    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log
        self.replaceable: set[str] = set()

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        *,
        urgent: bool = False,
        replaceable: bool = False,
    ) -> None:
        text = payload.decode() if isinstance(payload, bytes) else payload
        self.log.append(("publish", topic, text))
        if replaceable:
            self.replaceable.add(topic)

    def ack(self, *messages: Message) -> None:
        self.log.extend(("ack", message.mid) for message in messages)


class FakeStore:
    """The event store: a commit goes into the shared log; ``failing`` makes it refuse."""

    def __init__(self, log: list[tuple[Any, ...]], saved: str | None = None) -> None:
        self.log = log
        self.saved = saved
        self.failing = False
        self.committed: list[Batch] = []

    def write(self, batch: Batch) -> object:
        if self.failing:
            raise StoreUnavailable("disk full")
        self.committed.append(batch)
        self.log.append(("commit", batch))
        return None

    def load_snapshot(self) -> str | None:
        return self.saved

    def load_panel_sensors(self) -> dict[str, str]:
        return {}

    def devices(self) -> list[Any]:
        return []

    def prune(self, before: float) -> int:
        return 0


class Rig:
    """A started controller on the fakes; ``send`` delivers a message and runs a turn."""

    def __init__(self, saved: str | None = None, now: float = T0) -> None:
        self.now = now
        self.log: list[tuple[Any, ...]] = []
        self.broker = FakeBroker(self.log)
        self.store = FakeStore(self.log, saved)
        self.inbox: Inbox = queue.Queue()
        bindings = [SensorBinding(s.id, s.type) for s in SETTINGS.sensors]
        self.controller = Controller(
            settings=SETTINGS,
            topics=TopicMap.build("home", bindings, []),
            outbound=Outbound(self.broker, SiteTopics("home")),
            client=self.broker,
            inbox=self.inbox,
            store=self.store,
            clock=lambda: self.now,
            security=MessageSecurity(keys={"cellar": DeviceKey(SECRET)}),
        )
        self.controller.start()
        self.controller.turn()  # connected: what is retained is said
        self.mid = 0

    def send(self, topic: str, payload: bytes | str, *, retain: bool = False) -> int:
        self.mid += 1
        raw = payload.encode() if isinstance(payload, str) else payload
        self.inbox.put(Message(topic, raw, 1, retain, self.mid, False))
        self.controller.turn()
        return self.mid

    def arm_away(self) -> None:
        self.send("home/alarm/set", json.dumps({"action": "ARM_AWAY", "code": PIN}))
        assert self.state() is PanelState.ARMED_AWAY
        self.log.clear()
        self.store.committed.clear()

    def state(self) -> PanelState:
        return self.controller.panel.state

    def position(self, entry: tuple[Any, ...]) -> int:
        return self.log.index(entry)

    def commits(self) -> list[int]:
        return [i for i, entry in enumerate(self.log) if entry[0] == "commit"]

    def sensor_records(self) -> list[Any]:
        return [r for batch in self.store.committed for r in batch.sensor_events]

    def events(self) -> list[str]:
        return [r.event_type for batch in self.store.committed for r in batch.system_events]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_door_opened_while_armed_away_sounds_the_siren_after_the_entry_delay(
    rig: Rig,
) -> None:
    rig.arm_away()
    mid = rig.send(FRONT, "OPEN")
    assert rig.state() is PanelState.PENDING
    pending = rig.position(("publish", "home/alarm/state", "pending"))
    [commit] = rig.commits()
    assert pending < commit < rig.position(("ack", mid))  # decided, stored, acknowledged
    [record] = rig.sensor_records()
    assert (record.device_id, record.state, record.ts) == ("front", "OPEN", T0)
    assert "pending" in rig.events()
    assert ("publish", SIREN, "ON") not in rig.log  # not during the entry delay

    rig.log.clear()
    rig.now += 30
    rig.controller.turn()  # the entry delay is over
    assert rig.state() is PanelState.TRIGGERED
    [commit] = rig.commits()
    assert rig.position(("publish", SIREN, "ON")) < commit  # the siren never waits
    assert rig.position(("publish", LIGHT, "ON")) < commit
    assert "triggered" in rig.events()


def test_a_store_that_fails_does_not_stop_the_panel_deciding(rig: Rig) -> None:
    rig.arm_away()
    rig.store.failing = True
    mid = rig.send(FRONT, "OPEN")
    rig.now += 30
    rig.controller.turn()
    assert rig.state() is PanelState.TRIGGERED
    assert ("publish", SIREN, "ON") in rig.log
    assert ("ack", mid) not in rig.log  # nothing stored: the broker will deliver it again
    assert rig.commits() == []
    assert rig.controller.panel.system_troubles  # the storage trouble
    assert rig.controller.view().stats.store_waiting > 0

    rig.store.failing = False
    closed = rig.send(FRONT, "CLOSED")  # the next turn's commit takes what waited
    rig.controller.turn()  # the writer said the store works again
    commit = rig.commits()[0]
    assert commit < rig.position(("ack", mid)) < rig.position(("ack", closed))
    assert [r.state for r in rig.sensor_records()] == ["OPEN", "CLOSED"]
    assert {"pending", "triggered", "trouble", "restored"} <= set(rig.events())
    assert not rig.controller.panel.system_troubles


def test_a_redelivered_message_is_handed_to_the_store_with_the_same_dedup_key(
    rig: Rig,
) -> None:
    payload = json.dumps({"state": "OPEN", "seq": 7, "ts": T0})
    first, again = rig.send(FRONT, payload), rig.send(FRONT, payload)
    one, two = rig.sensor_records()
    assert one.dedup_key is not None and one.dedup_key == two.dedup_key  # stored once
    assert ("ack", first) in rig.log and ("ack", again) in rig.log
    assert rig.controller.panel.message_seqs == {"front": 7}
    assert "messages_lost" not in rig.events()


def test_a_replayed_signed_message_is_refused_and_said(rig: Rig) -> None:
    rig.arm_away()
    signed = json.dumps(signing.sign(SECRET, "cellar", {"state": "CLOSED", "seq": 3, "ts": T0}))
    rig.send(CELLAR, signed)
    assert rig.controller.panel.message_seqs == {"cellar": 3}
    replayed = json.dumps(signing.sign(SECRET, "cellar", {"state": "OPEN", "seq": 3, "ts": T0}))
    mid = rig.send(CELLAR, replayed)
    assert rig.state() is PanelState.ARMED_AWAY  # not believed
    assert rig.controller.panel.sensor("cellar").state is SensorState.CLOSED
    assert rig.controller.stats.rejected["replayed"] == 1
    assert rig.events()[-1] == "security"
    assert ("ack", mid) in rig.log  # refused, still acknowledged (after its commit)


def test_a_payload_nobody_can_read_is_counted_acknowledged_and_changes_nothing(
    rig: Rig,
) -> None:
    before = rig.controller.panel
    mid = rig.send(FRONT, b"\xff\xfe not a state")
    assert rig.controller.panel == before
    assert rig.controller.stats.rejected["not_utf8"] == 1
    assert ("ack", mid) in rig.log
    assert rig.sensor_records() == []


def test_a_retained_command_is_cleared_not_obeyed(rig: Rig) -> None:
    rig.arm_away()
    mid = rig.send("home/alarm/set", json.dumps({"action": "DISARM", "code": PIN}), retain=True)
    assert rig.state() is PanelState.ARMED_AWAY
    clear, commit = rig.position(("publish", "home/alarm/set", "")), rig.commits()[0]
    assert clear < commit < rig.position(("ack", mid))
    assert rig.events() == ["command_rejected"]
    assert rig.controller.stats.rejected["retained_command"] == 1


def test_a_reconnection_restates_the_siren_and_the_light(rig: Rig) -> None:
    rig.arm_away()
    rig.send(FRONT, "OPEN")
    rig.now += 30
    rig.controller.turn()
    rig.log.clear()
    rig.broker.connection_count = 2  # the broker came back: what it kept may be lost
    rig.controller.turn()
    assert ("publish", SIREN, "ON") in rig.log
    assert ("publish", LIGHT, "ON") in rig.log
    assert ("publish", "home/alarm/state", "triggered") in rig.log


def test_a_start_restates_each_sensor_once(rig: Rig) -> None:
    """Once connected, every sensor's retained state is said once: not also before, at
    start (with 100,000 sensors, twice is 200,000 messages ahead of the first answer)."""
    published = [entry[1] for entry in rig.log if entry[0] == "publish"]
    said = [topic for topic in published if topic.startswith("home/alarm/sensors/")]
    assert sorted(said) == ["home/alarm/sensors/cellar", "home/alarm/sensors/front"]
    # ... and after every other message waiting: the answers to commands go first.
    assert rig.broker.replaceable == set(said)


def test_a_restart_during_an_alarm_restates_the_siren_and_the_light(rig: Rig) -> None:
    rig.arm_away()
    rig.send(FRONT, "OPEN")
    rig.now += 30
    rig.controller.turn()
    saved = snapshot.dump(rig.controller.panel)
    again = Rig(saved, now=rig.now + 10)  # restarted within the siren time
    assert again.state() is PanelState.TRIGGERED
    assert ("publish", SIREN, "ON") in again.log
    assert ("publish", LIGHT, "ON") in again.log
    calm = Rig()  # no alarm
    assert ("publish", SIREN, "OFF") in calm.log
    assert ("publish", LIGHT, "OFF") in calm.log  # a light left on by the crash goes off
