"""Real device families as their owners run them, end to end on a real Mosquitto.

Each payload below is what that project documents it publishes (source cited at each
test); the controller runs in a thread as in ``test_system``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from homeguard.adapters.web.documents import sensor_status
from homeguard.services.controller import Controller
from tests.conftest import MosquittoProcess
from tests.services.conftest import House, Observer, _cheap, event

HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home}}
storage: {{path: events.db, synchronous: normal}}
panel:{grace}
  restart_grace: 0  # these devices' offlines are news from the start
  modes:
    armed_away: {{exit_delay: 0, entry_delay: 30, siren_time: 30}}
users:
  - {{name: alice, pin_hash: "{alice}"}}
sensors:
{sensors}
actuators:
  - {{id: siren, type: siren}}
simulation: {{enabled: false}}
"""

# Only sensor keys the old configuration knew: these tests show what the old code got
# wrong with what its users could write.
CLASSIC = """\
  - {id: garage, type: door, family: zigbee2mqtt, topic: zigbee2mqtt/garage_door}
  - {id: shellydw2-8CAAB5, type: window, family: shelly}
  - {id: attic, type: window, family: homeassistant}
  - {id: landing, type: motion, family: esphome}
  - {id: rfbridge, type: window, family: tasmota}
"""

FAMILIES = """\
  - id: cellar
    type: door
    family: shelly
    device: shellyplusi4-a8032ab12345
    component: "input:0"
  - id: kitchen
    type: window
    family: tasmota
    device: rfbridge
    rf_codes: {open: "80650A", closed: "80650E", tamper: "806507"}
  - {id: porch, type: window, family: tasmota, device: rfbridge, rf_codes: {open: "A1B2C3"}}
  - id: landing
    type: motion
    family: esphome
    device: landing-pir
    object_id: landing_motion
    event_only: true
"""


NO_REPORT = """\
  - {id: front, type: door}
  - {id: garage, type: door, family: zigbee2mqtt}
  - {id: hall, type: motion, event_only: true}
"""


@pytest.fixture
def house(request: pytest.FixtureRequest, mosquitto: MosquittoProcess, tmp_path: Path) -> House:
    """The classic house, or (parametrized indirectly) other sensors and a report_grace;
    the ``controller`` fixture of tests/services/conftest.py runs it."""
    sensors, grace = getattr(request, "param", (CLASSIC, None))
    path = tmp_path / "homeguard.yaml"
    line = "" if grace is None else f"\n  report_grace: {grace}"
    path.write_text(
        HOUSE.format(port=mosquitto.port, alice=_cheap("1234"), sensors=sensors, grace=line)
    )
    return House(mosquitto, path, tmp_path / "data")


with_families = pytest.mark.parametrize("house", [(FAMILIES, "null")], indirect=True)


def _armed_away(observer: Observer) -> float:
    after = time.monotonic()
    observer.command("ARM_AWAY", "1234")
    return observer.wait_for("home/alarm/state", "armed_away", after=after)


def _sensor(controller: Controller, sensor_id: str, test: Callable[[object], bool]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if test(controller.panel.sensor(sensor_id)):
            return
        time.sleep(0.02)
    pytest.fail(f"{sensor_id}: {controller.panel.sensor(sensor_id)}")


def test_zigbee2mqtt_door_opening_while_its_tamper_flag_is_still_set(
    controller: Controller, observer: Observer
) -> None:
    # zigbee2mqtt.io/devices/SNTZ007.html: a contact sensor exposes contact (false =
    # open), battery_low, tamper, battery; Z2M repeats every property in each message.
    after = time.monotonic()
    observer.publish(
        "zigbee2mqtt/garage_door",
        '{"battery": 90, "battery_low": false, "contact": true, "linkquality": 120, '
        '"tamper": true}',
    )
    observer.wait_for("home/alarm/state", "triggered", after=after)  # tamper: 24 h
    after = time.monotonic()
    observer.command("DISARM", "1234")
    observer.wait_for("home/alarm/state", "disarmed", after=after)
    _armed_away(observer)
    after = time.monotonic()
    observer.publish(
        "zigbee2mqtt/garage_door",
        '{"battery": 90, "battery_low": false, "contact": false, "linkquality": 117, '
        '"tamper": true}',
    )
    observer.wait_for("home/alarm/state", "pending", after=after)  # the door opened
    assert controller.panel.triggered_by == ("garage",)
    # The flag that stays set does not trip again: an entry delay, not a second alarm.
    assert controller.panel.state.value == "pending"


def test_zigbee2mqtt_battery_low_is_a_trouble(controller: Controller, observer: Observer) -> None:
    after = time.monotonic()
    observer.publish("zigbee2mqtt/garage_door", '{"battery_low": true, "contact": true}')
    observer.wait_for("home/alarm/event", event("trouble"), after=after)
    trouble = observer.events("trouble")[-1]
    assert trouble["sensor"] == "garage" and trouble["trouble"] == "low_battery"


@with_families
def test_shelly_gen2_notify_status_on_events_rpc(
    controller: Controller, observer: Observer
) -> None:
    # shelly-api-docs.shelly.cloud/gen2/General/Notifications: NotifyStatus on
    # <id>/events/rpc, the changed component as "input:0": {"id": 0, "state": ...}.
    _armed_away(observer)
    after = time.monotonic()
    frame = {
        "src": "shellyplusi4-a8032ab12345",
        "dst": "shellyplusi4-a8032ab12345/events",
        "method": "NotifyStatus",
        "params": {"ts": 1764288000.12, "input:0": {"id": 0, "state": True}},
    }
    observer.publish("shellyplusi4-a8032ab12345/events/rpc", json.dumps(frame))
    observer.wait_for("home/alarm/state", "pending", after=after)
    assert controller.panel.sensor("cellar").state is not None
    assert controller.panel.sensor("cellar").state.value == "OPEN"  # type: ignore[union-attr]
    # <id>/online is its availability (the MQTT Last Will: false).
    after = time.monotonic()
    observer.publish("shellyplusi4-a8032ab12345/online", "false")
    observer.wait_for("home/alarm/event", event("trouble"), after=after)


def test_shelly_gen1_battery_and_tilt_feed_the_same_sensor(
    controller: Controller, observer: Observer
) -> None:
    # shelly-api-docs.shelly.cloud/gen1 (Door/Window 2 MQTT): shellies/<id>/sensor/state
    # open/close, .../sensor/battery percent, .../sensor/tilt degrees.
    observer.publish("shellies/shellydw2-8CAAB5/sensor/state", "close")
    observer.publish("shellies/shellydw2-8CAAB5/sensor/tilt", "12")
    observer.publish("shellies/shellydw2-8CAAB5/sensor/battery", "87")
    sensor = "shellydw2-8CAAB5"
    _sensor(controller, sensor, lambda s: getattr(s, "battery", None) == 87)
    assert controller.panel.sensor(sensor).state.value == "CLOSED"  # type: ignore[union-attr]


@with_families
def test_tasmota_rf_bridge_codes_reach_their_sensor(
    controller: Controller, observer: Observer
) -> None:
    # tasmota.github.io/docs/devices/Sonoff-RF-Bridge-433: every code received is
    # tele/<topic>/RESULT {"RfReceived": {"Sync", "Low", "High", "Data", "RfKey"}}.
    _armed_away(observer)
    rejected = controller.stats.rejected["unmatched"]
    observer.publish(
        "tele/rfbridge/RESULT",
        '{"RfReceived":{"Sync":14080,"Low":470,"High":1380,"Data":"C0FFEE","RfKey":"None"}}',
    )
    deadline = time.monotonic() + 10
    while controller.stats.rejected["unmatched"] == rejected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert controller.stats.rejected["unmatched"] == rejected + 1  # nobody's code
    after = time.monotonic()
    observer.publish(
        "tele/rfbridge/RESULT",
        '{"RfReceived":{"Sync":14080,"Low":470,"High":1380,"Data":"80650A","RfKey":"None"}}',
    )
    observer.wait_for("home/alarm/state", "triggered", after=after)  # a perimeter window
    assert controller.panel.triggered_by == ("kitchen",)
    assert controller.panel.sensor("porch").state is None  # the other sensor of the bridge


def test_home_assistant_unavailable_is_the_device_offline(
    controller: Controller, observer: Observer
) -> None:
    # home-assistant.io/integrations/mqtt_statestream: the entity's state, which HA
    # sets to "unavailable" when it cannot reach the device.
    observer.publish("homeassistant/binary_sensor/attic/state", "off")
    _sensor(controller, "attic", lambda s: getattr(s, "state", None) is not None)
    rejected = sum(controller.stats.rejected.values())
    after = time.monotonic()
    observer.publish("homeassistant/binary_sensor/attic/state", "unavailable")
    observer.wait_for("home/alarm/event", event("trouble"), after=after)
    trouble = observer.events("trouble")[-1]
    assert trouble["sensor"] == "attic" and trouble["trouble"] == "offline"
    assert sum(controller.stats.rejected.values()) == rejected


@with_families
def test_esphome_node_and_object_id_differ(controller: Controller, observer: Observer) -> None:
    # esphome.io/components/mqtt: <topic_prefix>/binary_sensor/<object_id>/state ON/OFF,
    # the node's birth and will on <topic_prefix>/status online/offline.
    observer.publish("landing-pir/status", "online")
    observer.publish("landing-pir/binary_sensor/landing_motion/state", "ON")
    _sensor(controller, "landing", lambda s: getattr(s, "state", None) is not None)
    assert controller.panel.sensor("landing").state.value == "MOTION"  # type: ignore[union-attr]


def test_status_lists_every_configured_device(
    house: House, controller: Controller, observer: Observer
) -> None:
    # Each family's own availability, retained as their projects publish it.
    observer.publish("zigbee2mqtt/garage_door/availability", '{"state":"online"}', retain=True)
    observer.publish("shellies/shellydw2-8CAAB5/online", "false", retain=True)
    observer.publish("tele/rfbridge/LWT", "Online", retain=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and controller.devices.get("rfbridge") is None:
        time.sleep(0.02)
    result = house.cli("status", "--json", "--timeout", "1")
    assert result.returncode == 0, result.stderr
    devices = json.loads(result.stdout)["devices"]
    assert {"garage", "shellydw2-8CAAB5", "attic", "landing", "rfbridge"} <= set(devices)
    assert devices["garage"] == "online"
    assert devices["rfbridge"] == "online"
    assert devices["shellydw2-8CAAB5"] == "offline"
    assert devices["attic"] == devices["landing"] == "unknown"


@pytest.mark.parametrize("house", [(NO_REPORT, "1")], indirect=True)
def test_a_sensor_not_heard_since_start_blocks_arming(
    house: House, controller: Controller, observer: Observer
) -> None:
    observer.publish("zigbee2mqtt/garage", '{"contact": true}')
    observer.wait_for("home/alarm/event", event("trouble"))  # report_grace: 1 s
    trouble = observer.events("trouble")[-1]
    assert trouble["sensor"] == "front" and trouble["trouble"] == "no_report"
    rows = {r.id: r for r in sensor_status(controller.view(), house.site.settings, {})}
    assert rows["front"].status == "trouble"
    assert rows["front"].trouble == "no_report"
    assert rows["hall"].trouble is None  # event only: exempt
    assert rows["garage"].trouble is None  # heard
    shown = house.cli("status", "--timeout", "1")
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line for line in shown.stdout.splitlines() if line.strip()}
    assert lines["front"].endswith("(no_report)")
    assert "(" not in lines["hall"]
    after = time.monotonic()
    observer.command("ARM_AWAY", "1234")
    observer.wait_for("home/alarm/event", event("failed_to_arm"), after=after)
    assert observer.events("failed_to_arm")[-1]["sensors"] == {"front": "no_report"}
    after = time.monotonic()
    observer.command("ARM_AWAY", "1234", force=True)
    observer.wait_for("home/alarm/state", "armed_away", after=after)
    # It speaks: the trouble is over.
    after = time.monotonic()
    observer.publish("home/security/door/front", "CLOSED")
    observer.wait_for("home/alarm/event", event("restored"), after=after)


@pytest.mark.parametrize(
    ("topic", "payload", "sensor"),
    [
        # tasmota.github.io/docs/MQTT: the LWT, tele/<topic>/LWT Online / Offline
        ("tele/rfbridge/LWT", "Offline", "rfbridge"),
        # esphome.io/components/mqtt: will message on <topic_prefix>/status
        ("landing/status", "offline", "landing"),
        # shelly-api-docs (Gen1 MQTT): shellies/<id>/online, the Last Will false
        ("shellies/shellydw2-8CAAB5/online", "false", "shellydw2-8CAAB5"),
    ],
)
def test_each_family_default_availability_topic(
    controller: Controller, observer: Observer, topic: str, payload: str, sensor: str
) -> None:
    after = time.monotonic()
    observer.publish(topic, payload)
    observer.wait_for("home/alarm/event", event("trouble"), after=after)
    trouble = observer.events("trouble")[-1]
    assert trouble["sensor"] == sensor and trouble["trouble"] == "offline"
