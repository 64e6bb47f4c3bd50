"""The panel's snapshot in a real event store: each turn writes the panel's own part and
a row for each sensor it changed, not every sensor (issue 13: many devices), in the
turn's transaction; a restart resumes exactly the panel that was running, and a store
that holds a whole snapshot from before the rows still loads, and is rewritten as rows."""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

from homeguard.adapters.mqtt import Message
from homeguard.adapters.store import EventStore
from homeguard.adapters.topics import SensorBinding, SiteTopics, TopicMap
from homeguard.core import snapshot
from homeguard.core.model import PanelSettings, SensorSpec, SensorType
from homeguard.core.panel import Panel, SensorStatus
from homeguard.core.records import Batch
from homeguard.services.controller import Controller, Inbox
from homeguard.services.outbound import Outbound
from tests.services.test_controller import FakeBroker

T0 = 1764288000.0
INBOX: Inbox = queue.Queue()  # one controller at a time: what the test sends it
SENSORS = 1_000
SETTINGS = PanelSettings(
    sensors=tuple(SensorSpec(f"d{n}", SensorType.DOOR, supervision=3600) for n in range(SENSORS))
)


class Recording(EventStore):
    """The real store, keeping each batch it is given."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[Batch] = []

    def write(self, batch: Batch) -> Any:
        self.batches.append(batch)
        return super().write(batch)


def controller(store: EventStore, now: float, settings: PanelSettings = SETTINGS) -> Controller:
    """Started: its first turn committed the snapshot of the panel it resumed."""
    bindings = [SensorBinding(s.id, s.type) for s in settings.sensors]
    broker = FakeBroker([])
    built = Controller(
        settings=settings,
        topics=TopicMap.build("home", bindings, []),
        outbound=Outbound(broker, SiteTopics("home")),
        client=broker,
        inbox=INBOX,
        store=store,
        clock=lambda: now,
    )
    built.start()
    return built


def send(ctl: Controller, topic: str, payload: str, mid: int) -> None:
    INBOX.put(Message(topic, payload.encode(), 1, False, mid, False))
    ctl.turn()


def saved_panel(path: Path, settings: PanelSettings = SETTINGS) -> Panel:
    with EventStore(path) as store:
        body = store.load_snapshot()
        assert body is not None
        return snapshot.load(body, settings, store.load_panel_sensors())


def test_a_turn_writes_the_rows_of_the_sensors_it_changed_and_a_restart_resumes_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    with Recording(path) as store:
        ctl = controller(store, T0)
        [first] = store.batches
        assert len(first.panel_sensors) == 0  # nothing heard yet
        for mid, n in enumerate((5, 17, 5, 999), start=1):
            state = "OPEN" if mid % 2 else "CLOSED"
            send(ctl, f"home/security/door/d{n}", f'{{"state":"{state}","seq":{mid}}}', mid)
        for batch, n in zip(store.batches[1:], (5, 17, 5, 999), strict=True):
            assert set(batch.panel_sensors) == {f"d{n}"}  # with its events, in one commit
            assert batch.sensor_events
            assert batch.snapshot is None  # the panel's own part did not change
        send(ctl, "home/alarm/set", "TRIGGER", 5)  # the panel's own part changes
        triggered = store.batches[-1].snapshot
        assert triggered is not None and '"triggered"' in triggered and "d5" not in triggered
        running = ctl.panel
    assert saved_panel(path) == running
    assert running.sensor("d5").last_seen == T0 and running.message_seqs["d999"] == 4
    with Recording(path) as store:  # a restart: the same sensors, as they were
        again = controller(store, T0 + 60)
        assert again.panel.sensors == running.sensors
        assert again.panel.message_seqs == running.message_seqs


def test_a_store_with_a_whole_snapshot_loads_and_is_rewritten_as_rows(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    heard = {f"d{n}": SensorStatus(last_seen=T0 - n) for n in range(0, SENSORS, 3)}
    older = Panel(since=T0, supervised_since=T0, sensors=heard, message_seqs={"d3": 7})
    with EventStore(path) as store:
        store.write(Batch(snapshot=snapshot.dump(older)))  # as the store was before rows
    with Recording(path) as store:
        ctl = controller(store, T0 + 10)
        assert ctl.panel.sensors == older.sensors
        assert ctl.panel.message_seqs == older.message_seqs
        [first] = store.batches
        assert set(first.panel_sensors) == set(heard)
        assert first.snapshot is not None and '"d3"' not in first.snapshot
        running = ctl.panel
    assert saved_panel(path) == running


def test_rows_of_sensors_no_longer_configured_are_removed_at_the_start(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with Recording(path) as store:
        ctl = controller(store, T0)
        send(ctl, "home/security/door/d7", "OPEN", 1)
        send(ctl, "home/security/door/d8", "OPEN", 2)
    fewer = PanelSettings(sensors=SETTINGS.sensors[:8])  # d8 is gone
    with Recording(path) as store:
        controller(store, T0 + 10, fewer)
        [first] = store.batches
        assert first.panel_sensors["d8"] is None
        assert set(store.load_panel_sensors()) == {"d7"}
