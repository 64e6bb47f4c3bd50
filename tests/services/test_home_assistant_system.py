"""Home Assistant against the real controller on a real Mosquitto.

``HomeAssistant`` below speaks exactly as Home Assistant's MQTT alarm panel does: it
learns the panel from the retained discovery config, and when a user types a code on
its keypad and presses a button it renders the config's ``command_template`` with
``action`` (the button's payload) and ``code`` (what was typed) in a sandboxed Jinja
environment, as Home Assistant's templates are, and publishes that on the config's
``command_topic``. It announces itself with ``homeassistant/status`` = ``online``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from homeguard.adapters.mqtt import BrokerAddress, Message, MqttClient
from homeguard.app import Site, connected_controller
from homeguard.config import load_config, parse_config
from homeguard.services.home_assistant import discovery
from homeguard.services.provisioning import SecurityFiles, load_credentials, provision
from tests.conftest import MosquittoProcess, client_id, free_port, wait_until
from tests.services.conftest import House, Observer, event

pytestmark = pytest.mark.broker

PANEL = "homeassistant/alarm_control_panel/homeguard_home/panel/config"


class HomeAssistant(Observer):
    """What Home Assistant's MQTT integration does on the wire, for these tests."""

    def __init__(self, broker: MosquittoProcess, address: BrokerAddress | None = None) -> None:
        client = MqttClient(
            address=address or broker.address,
            client_id=client_id("home-assistant"),
            persistent=False,
            subscriptions=[
                ("homeassistant/#", 1),
                ("home/alarm/sensors/+", 1),
                ("home/alarm/state", 1),
            ],
        )
        client.start()
        super().__init__(client)

    def last(self, topic: str, after: float = 0.0) -> Message | None:
        with self._lock:
            found = [m for when, m in self.seen if m.topic == topic and when >= after]
        return found[-1] if found else None

    def payload(self, topic: str) -> bytes | None:
        message = self.last(topic)
        return None if message is None else message.payload

    def config(self, topic: str = PANEL, after: float = 0.0) -> dict[str, Any]:
        wait_until(
            lambda: (m := self.last(topic, after)) is not None and m.payload,
            timeout=15,
            what=f"a discovery config on {topic}",
        )
        message = self.last(topic, after)
        assert message is not None
        config: dict[str, Any] = json.loads(message.payload)
        return config

    def press(self, button: str, code: str | None) -> None:
        """A keypad button (arm_away, disarm ...) after typing ``code``."""
        panel = self.config()
        template = ImmutableSandboxedEnvironment().from_string(panel["command_template"])
        payload = template.render(action=panel[f"payload_{button}"], code=code)
        self.client.publish(panel["command_topic"], payload, qos=panel.get("qos", 0))

    def birth(self) -> None:
        self.client.publish("homeassistant/status", "online", qos=1)


@pytest.fixture
def home_assistant(mosquitto: MosquittoProcess) -> Iterator[HomeAssistant]:
    ha = HomeAssistant(mosquitto)
    yield ha
    ha.close()


def state(observer: Observer, value: str, after: float = 0.0) -> float:
    return observer.wait_for("home/alarm/state", value, timeout=15, after=after)


@pytest.mark.usefixtures("controller")
def test_home_assistants_keypad_arms_and_disarms_with_a_code(
    home_assistant: HomeAssistant, observer: Observer
) -> None:
    panel = home_assistant.config()
    assert panel["code"] == "REMOTE_CODE"
    assert panel["state_topic"] == "home/alarm/state"
    state(observer, "disarmed")

    start = time.monotonic()
    home_assistant.press("arm_away", "1234")
    armed = state(observer, "armed_away", after=start)  # after the 1 s exit delay

    home_assistant.press("disarm", "0000")  # a wrong code
    observer.wait_for("home/alarm/event", event("invalid_code"), after=armed)
    assert observer.events("disarmed") == []

    home_assistant.press("disarm", "1234")
    state(observer, "disarmed", after=armed)
    assert len(observer.events("invalid_code")) == 1


@pytest.mark.usefixtures("controller")
def test_without_a_code_home_assistant_is_refused(
    home_assistant: HomeAssistant, observer: Observer
) -> None:
    start = time.monotonic()
    home_assistant.press("arm_away", None)
    observer.wait_for("home/alarm/event", event("command_rejected"), after=start)
    (refusal,) = observer.events("command_rejected")
    assert refusal["reason"] == "code_required"
    assert observer.events("arming") == []


@pytest.mark.usefixtures("controller")
def test_entities_follow_the_sensors(
    mosquitto: MosquittoProcess, home_assistant: HomeAssistant, observer: Observer
) -> None:
    door = "homeassistant/binary_sensor/homeguard_home/front/config"
    assert home_assistant.config(door)["device_class"] == "door"
    start = time.monotonic()
    observer.publish("home/security/door/front", json.dumps({"state": "OPEN", "battery": 71}))

    def opened() -> bool:
        message = home_assistant.last("home/alarm/sensors/front", start)
        return message is not None and json.loads(message.payload)["active"] is True

    wait_until(opened, what="the front door's open state on home/alarm/sensors/front")
    message = home_assistant.last("home/alarm/sensors/front", start)
    assert message is not None
    assert json.loads(message.payload)["battery"] == 71
    late = HomeAssistant(mosquitto)
    try:  # retained, for a Home Assistant that starts later
        wait_until(lambda: (m := late.last("home/alarm/sensors/front")) and m.retain)
    finally:
        late.close()


def test_discovery_is_sent_again_when_home_assistant_comes_online(
    controller: object, home_assistant: HomeAssistant, observer: Observer
) -> None:
    home_assistant.config()
    # Home Assistant restarts: it forgets entities that are not announced again.
    cleared = time.monotonic()  # before publishing: the echo may come back at once
    home_assistant.client.publish(PANEL, b"", qos=1, retain=True)
    wait_until(lambda: (m := home_assistant.last(PANEL, cleared)) is not None and not m.payload)
    home_assistant.birth()
    panel = home_assistant.config(after=cleared)
    assert panel["command_topic"] == "home/alarm/set"


def test_a_sensor_removed_from_the_config_disappears_from_home_assistant(
    house: House, home_assistant: HomeAssistant
) -> None:
    site = house.site
    ours = {m.topic for m in discovery(site.config)}
    gone = {t for t in ours if "/hall" in t}
    assert len(gone) == 4  # the motion sensor, its trouble, connectivity and battery
    _run_controller_until(house, lambda: all(home_assistant.last(t) for t in ours))

    text = house.config_path.read_text()
    house.config_path.write_text(text.replace("  - {id: hall, type: motion, zone: interior}\n", ""))
    assert len(load_config(house.config_path).sensors) == len(site.config.sensors) - 1
    restarted = time.monotonic()

    def cleared() -> bool:
        return all(
            (m := home_assistant.last(t, restarted)) is not None and m.payload == b"" for t in gone
        )

    _run_controller_until(house, cleared)
    # Only those: every other entity is still there, retained.
    with home_assistant._lock:
        emptied = {
            m.topic for when, m in home_assistant.seen if when >= restarted and not m.payload
        }
    assert emptied == gone
    late = HomeAssistant(house.broker)
    try:
        wait_until(lambda: late.last(PANEL) is not None, what="the retained panel config")
        for topic in gone:
            assert late.last(topic) is None
    finally:
        late.close()


def test_discovery_can_be_switched_off(house: House, home_assistant: HomeAssistant) -> None:
    text = house.config_path.read_text()
    house.config_path.write_text(text + "home_assistant: {discovery: false}\n")

    def announced() -> bool:
        # The sensors' states are said after the discovery configs once connected, and
        # wait behind every other message: by the first, any config would have arrived.
        with home_assistant._lock:
            return any(m.topic == "home/alarm/sensors/front" for _, m in home_assistant.seen)

    _run_controller_until(house, announced)
    with home_assistant._lock:
        discovered = [m.topic for _, m in home_assistant.seen if m.topic.endswith("/config")]
    assert discovered == []


def _run_controller_until(house: House, condition: Callable[[], object]) -> None:
    stop = threading.Event()
    with connected_controller(house.site) as running:
        thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
        thread.start()
        try:
            wait_until(condition, timeout=20)
        finally:
            stop.set()
            thread.join(timeout=10)


SECURED = """
mqtt: {{host: 127.0.0.1, port: {port}}}
storage: {{path: events.db, synchronous: normal}}
panel: {{modes: {{armed_home: {{exit_delay: 0}}}}}}
users:
  - {{name: alice, pin: "1234"}}
sensors:
  - {{id: front, type: door}}
actuators:
  - {{id: siren, type: siren}}
security: {{provisioned: {root}, clients: [cli, homeassistant]}}
web: {{enabled: false}}
"""


def _address(broker: MosquittoProcess, root: Path, account: str) -> BrokerAddress:
    login = load_credentials(root, account)
    assert login is not None, account
    return BrokerAddress(broker.host, broker.port, login.username, login.password)


def test_home_assistant_works_through_the_provisioned_acl(tmp_path: Path) -> None:
    """The broker `homeguard up` secures: Home Assistant logs in as its own client, reads
    the discovery and the sensors, says online and arms with a code; it can neither
    rewrite a discovery config nor sound the siren."""
    root = tmp_path / "security"
    port = free_port()
    config = parse_config(SECURED.format(port=port, root=root))
    provision(config, root, time.time())
    files = SecurityFiles(root)
    broker = MosquittoProcess(
        tmp_path / "mosquitto", port, password_file=files.password_file, acl_file=files.acl_file
    ).start()
    witness = MqttClient(
        address=_address(broker, root, "siren"),
        client_id=client_id("siren"),
        subscriptions=[("home/control/alarm", 1)],
    )
    witness.start()
    ha = HomeAssistant(broker, _address(broker, root, "homeassistant"))
    stop = threading.Event()
    try:
        with connected_controller(Site(config, tmp_path / "data")) as running:
            thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
            thread.start()
            panel = ha.config()
            wait_until(lambda: ha.last("home/alarm/sensors/front") is not None)
            ha.press("arm_home", "1234")
            wait_until(lambda: ha.payload("home/alarm/state") == b"armed_home")

            asked = time.monotonic()
            ha.client.publish(PANEL, b"", qos=1, retain=True)  # denied: not HA's to write
            ha.client.publish("home/control/alarm", "ON", qos=1)  # denied: the siren
            ha.birth()  # allowed: the controller sends the configs again
            assert ha.config(after=asked) == panel
            with ha._lock:
                assert all(m.payload for when, m in ha.seen if when >= asked)
            ha.press("trigger", None)  # the siren sounds: ON from the controller
            wait_until(lambda: ha.payload("home/alarm/state") == b"triggered")
            ha.press("disarm", "1234")  # and stops: OFF
            wait_until(lambda: ha.payload("home/alarm/state") == b"disarmed")
            heard: list[bytes] = []

            def siren_stopped() -> bool:
                heard.extend(m.payload for m in _drain(witness.messages))
                return b"ON" in heard and heard[-1] == b"OFF"

            wait_until(siren_stopped, what="the siren's ON and OFF")
            # Off when the controller starts, then only the controller's ON and OFF: Home
            # Assistant's ON (sent before its trigger) never reached the siren.
            while heard[0] == b"OFF":
                heard.pop(0)
            assert heard == [b"ON", b"OFF"]
            stop.set()
            thread.join(timeout=10)
    finally:
        stop.set()
        witness.stop()
        ha.close()
        broker.stop()


def _drain(messages: queue.Queue[Message]) -> list[Message]:
    got = []
    while True:
        try:
            got.append(messages.get_nowait())
        except queue.Empty:
            return got
