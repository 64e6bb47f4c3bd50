"""The state document rendered from the last one (StateRenderer) is the document rendered
whole, to the byte, after any sequence of changes; and after one sensor changed, the
live view renders that sensor's row alone, looks at no other sensor (for what blocks
arming neither) and asks the store for that sensor's battery alone (issue 13: the
dashboard at 100,000 sensors). Counted, not timed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeguard.adapters.web import Backend, documents, live
from homeguard.adapters.web.documents import state_document
from homeguard.adapters.web.rendering import StateRenderer, every_health
from homeguard.adapters.web.schemas import SystemFigures
from homeguard.core.health import assess_all
from homeguard.core.model import (
    ArmMode,
    PanelSettings,
    SensorSpec,
    SensorState,
    SensorType,
    ZoneKind,
)
from homeguard.core.panel import Panel, SensorStatus, Trouble, new_panel
from homeguard.core.persistent_map import PersistentMap
from homeguard.core.records import DeviceRecord
from homeguard.core.signals import ActuatorKind
from homeguard.services.view import Stats, View

SYSTEM = SystemFigures(
    broker="127.0.0.1:1883",
    broker_connected=True,
    started_at=0.0,
    uptime=1.0,
    messages=0,
    messages_per_second=0.0,
    store_bytes=None,
    devices=0,
    sensors=0,
    store_waiting=0,
    store_dropped=0,
    rejected=0,
    rejected_by_reason={},
)
ACTUATORS = [("siren", ActuatorKind.SIREN)]
IDS = [f"s{n}" for n in range(6)]
maybe_time = st.none() | st.floats(0, 2e9, allow_nan=False)

specs = st.builds(
    SensorSpec,
    id=st.just(""),
    type=st.sampled_from(SensorType),
    zone=st.none() | st.sampled_from(ZoneKind),
    modes=st.none() | st.frozensets(st.sampled_from(ArmMode)),
    name=st.sampled_from(["", "Front door", 'a "quoted" name', "Küche"]),
)
statuses = st.builds(
    SensorStatus,
    state=st.none() | st.sampled_from(SensorState),
    last_seen=maybe_time,
    trouble=st.none() | st.sampled_from(Trouble),
    battery_low=st.booleans(),
    battery=st.none() | st.integers(0, 100),
)
devices = st.builds(
    DeviceRecord,
    device_id=st.just(""),
    type=st.just("door"),
    capabilities=st.just(()),
    online=st.none() | st.booleans(),
    last_seen=maybe_time,
    announced_at=st.none(),
)
sensor_ids = st.sampled_from([*IDS, "unconfigured"])
changes = st.lists(
    st.one_of(
        st.tuples(st.just("status"), sensor_ids, statuses),
        st.tuples(st.just("forget"), sensor_ids),
        st.tuples(st.just("device"), sensor_ids, st.none() | devices),
        st.tuples(st.just("bypass"), sensor_ids),
        st.tuples(st.just("battery"), sensor_ids, st.none() | st.floats(0, 100)),
        st.tuples(st.just("plain")),  # the sensors as a dict (a clock step makes one)
        st.tuples(st.just("state"), st.sampled_from(ArmMode), maybe_time),
    ),
    max_size=12,
)


def straight(
    view: View, settings: PanelSettings, battery: Mapping[str, float], system: SystemFigures
) -> str:
    """The document rendered whole, as GET /api/state did before StateRenderer."""
    document = state_document(view, settings, ACTUATORS, battery, system)
    return json.dumps(document.model_dump(mode="json"), separators=(",", ":"))


@given(
    st.lists(specs, min_size=0, max_size=len(IDS)),
    st.dictionaries(sensor_ids, statuses),
    changes,
)
def test_the_document_rendered_from_the_last_is_the_document_rendered_whole(
    spec_list: list[SensorSpec], heard: dict[str, SensorStatus], steps: list[tuple[Any, ...]]
) -> None:
    settings = PanelSettings(
        sensors=tuple(replace(spec, id=IDS[n]) for n, spec in enumerate(spec_list))
    )
    panel = replace(new_panel(5.0), sensors=PersistentMap(heard, capacity=5000))
    known: Mapping[str, DeviceRecord] = PersistentMap()
    battery: dict[str, float] = {}
    renderer = StateRenderer(settings)
    for step in [("start",), *steps]:
        match step:
            case ("status", sensor_id, status):
                panel = replace(panel, sensors=_set(panel.sensors, sensor_id, status))
            case ("forget", sensor_id):
                rest = {k: v for k, v in panel.sensors.items() if k != sensor_id}
                panel = replace(panel, sensors=PersistentMap(rest, capacity=5000))
            case ("device", sensor_id, record):
                rest = {k: v for k, v in known.items() if k != sensor_id}
                if record is not None:
                    rest[sensor_id] = replace(record, device_id=sensor_id)
                known = rest if isinstance(known, dict) else PersistentMap(rest)
            case ("bypass", sensor_id):
                panel = replace(panel, bypassed=panel.bypassed ^ {sensor_id})
            case ("battery", sensor_id, level):
                battery = {k: v for k, v in battery.items() if k != sensor_id}
                if level is not None:
                    battery[sensor_id] = level
            case ("plain",):
                panel = replace(panel, sensors=dict(panel.sensors))
            case ("state", mode, deadline):
                panel = replace(panel, state=mode.state, mode=mode, deadline=deadline)
        view = View(panel, known, Stats(), 10.0)
        rendered = renderer.render(view, ACTUATORS, battery, SYSTEM)
        assert json.loads(rendered) == json.loads(straight(view, settings, battery, SYSTEM))


def _set(
    sensors: Mapping[str, SensorStatus], sensor_id: str, status: SensorStatus
) -> Mapping[str, SensorStatus]:
    if isinstance(sensors, PersistentMap):
        return sensors.set(sensor_id, status)
    return {**sensors, sensor_id: status}


# ------------------------------------------------------------ the work, counted

COUNT = 2_000
SETTINGS = PanelSettings(sensors=tuple(SensorSpec(f"d{n}", SensorType.DOOR) for n in range(COUNT)))


class CountedMap(PersistentMap[str, Any]):
    """The panel's sensors, counting the entries read."""

    read = 0

    def get(self, key: str, default: Any = None) -> Any:
        CountedMap.read += 1
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        CountedMap.read += 1
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        for key in super().__iter__():
            CountedMap.read += 1
            yield key


class Link:
    """The controller, as the live view sees it: the view it is shown."""

    def __init__(self, view: View) -> None:
        self.current = view

    def view(self) -> View:
        return self.current

    def watch(self, listener: Callable[[View], None]) -> None:
        pass

    def request(self, event: Any, timeout: float = 10.0) -> Any:
        raise NotImplementedError


class Store:
    """The event store's read side, remembering the sensors asked for a battery."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def battery_levels(self, devices: Sequence[str], *, scan: int = 50) -> dict[str, float]:
        self.asked.append(sorted(devices))
        return {"d7": 55.0} if "d7" in devices else {}

    def size_bytes(self) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(name)


def hub_of(link: Link, store: Store) -> live.LiveHub:
    backend = Backend(
        panel=link,
        settings=SETTINGS,
        store=store,  # type: ignore[arg-type]
        actuators=ACTUATORS,
        broker=lambda: "127.0.0.1:1883",
        broker_connected=lambda: True,
        clock=lambda: 1.0,
        health=lambda now, reported_only=False: [],
    )
    return live.LiveHub(backend)


def test_after_one_sensor_changed_the_live_view_renders_that_sensor_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []

    class CountedDocument(documents.SensorDocument):
        def __init__(self, **fields: Any) -> None:
            built.append(fields["id"])
            super().__init__(**fields)

    monkeypatch.setattr(documents, "SensorDocument", CountedDocument)
    monkeypatch.setattr(live, "BATTERY_EVERY", 0.0)  # a look-up at every change
    heard = CountedMap({f"d{n}": SensorStatus(SensorState.CLOSED) for n in range(COUNT)})
    heard = heard.set("d9", SensorStatus(trouble=Trouble.OFFLINE))
    panel = Panel(sensors=heard)
    link, store = Link(View(panel, PersistentMap(), Stats(), 1.0)), Store()
    hub = hub_of(link, store)
    loop = asyncio.new_event_loop()
    try:
        hub.attach(loop)
        first = json.loads(hub.rendered())
        assert len(built) == COUNT and store.asked == [sorted(spec.id for spec in SETTINGS.sensors)]
        assert first["blocking"]["armed_away"] == {"d9": "offline"}
        assert first["sensors"][7]["battery"] == 55.0
        built.clear()
        CountedMap.read = 0

        panel = replace(panel, sensors=heard.set("d3", SensorStatus(SensorState.OPEN)))
        link.current = View(panel, PersistentMap(), Stats(), 2.0)
        hub.publish(link.current)
        loop.run_until_complete(asyncio.sleep(0))  # the view reaches the loop
        shown = json.loads(hub.rendered())
        listed = json.loads(hub.rendered_sensors())  # GET /api/sensors: the same rows
    finally:
        loop.close()
    assert listed == shown["sensors"]
    assert built == ["d3"]
    assert store.asked[1:] == [["d3"]]
    assert CountedMap.read < 20  # the changed sensor and those that block, not 2,000
    assert shown["blocking"]["armed_away"] == {"d3": "open", "d9": "offline"}
    assert shown["sensors"][3]["status"] == "open" and shown["sensors"][7]["battery"] == 55.0


@pytest.mark.parametrize("rate", [1_000, 10**12])
def test_a_stream_sends_a_large_document_at_most_at_its_byte_rate(
    monkeypatch: pytest.MonkeyPatch, rate: int
) -> None:
    """Each copy of a large document holds the interpreter lock the alarms need: a
    stream waits after one in proportion to its size (at least MIN_SEND_GAP)."""
    monkeypatch.setattr(live, "STREAM_BYTES_PER_S", rate)
    hub = hub_of(Link(View(Panel(), PersistentMap(), Stats(), 1.0)), Store())
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # recorded, not slept; then the server stops
        slept.append(seconds)
        hub.close()

    async def connected() -> bool:
        return False

    async def read() -> list[str]:
        return [item async for item in hub.stream(connected)]

    monkeypatch.setattr(live.asyncio, "sleep", sleep)
    loop = asyncio.new_event_loop()
    try:
        sent = loop.run_until_complete(read())
    finally:
        loop.close()
    document = sent[1].removeprefix("event: state\ndata: ").removesuffix("\n\n")
    assert len(json.loads(document)["sensors"]) == COUNT
    assert slept == [max(live.MIN_SEND_GAP, len(document) / rate)]
    assert slept[0] > 100 if rate == 1_000 else slept[0] == live.MIN_SEND_GAP


@given(
    ids=st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=30),
    reported=st.sets(st.integers(min_value=0, max_value=29)),
    battery=st.integers(min_value=0, max_value=100),
)
def test_every_health_is_the_json_of_each_sensors_health_in_order(
    ids: list[str], reported: set[int], battery: int
) -> None:
    """``GET /api/health`` renders the sensors that never reported from one template:
    the same JSON as each one's health encoded, in the order configured, whatever the
    id holds (quotes, backslashes, non-ASCII)."""
    now = 1_767_225_600.0
    rows = [
        (ids[n], now - 60 * n, "OPEN", None, float(battery), None)
        for n in sorted(reported, reverse=True)  # oldest first
        if n < len(ids)
    ]
    expected = json.dumps([h.as_dict() for h in assess_all(ids, rows, now)])
    rendered = every_health(ids, assess_all(ids, rows, now, reported_only=True))
    assert json.loads(rendered) == json.loads(expected)
    assert rendered == json.dumps(json.loads(expected), separators=(",", ":"))
