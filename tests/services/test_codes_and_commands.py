"""Issue 9, through a real Mosquitto and the controller: PIN guessing with an arm-only
code in between (1), capped lockouts (16), retained commands (3), bypass while armed (6)
and a duress code that nothing an intruder can watch gives away (11)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from homeguard.adapters.mqtt import MqttClient
from homeguard.core.model import PanelState
from homeguard.services.controller import Controller
from homeguard.services.provisioning import SecurityFiles, provision
from tests.conftest import MosquittoProcess, client_id, collect, free_port, wait_until
from tests.services.conftest import House, Observer, _cheap, event, running
from tests.services.test_security import NOW, Secured, house

pytestmark = pytest.mark.broker

ALICE, BOB, DURESS = "1234", "5555", "9999"

HOUSE = """
mqtt: {{host: 127.0.0.1, port: {port}, base_topic: home}}
storage: {{path: events.db, synchronous: normal}}
panel:
  modes:
    armed_away: {{exit_delay: 0, entry_delay: 30, siren_time: 30}}
{lockout}
users:
  - {{name: alice, pin_hash: "{alice}"}}
  - {{name: bob, pin_hash: "{bob}", can_disarm: false}}
  - {{name: coerced, pin_hash: "{duress}", duress: true{cover}}}
sensors:
  - {{id: front, type: door, zone: entry}}
  - {{id: hall, type: motion, zone: interior}}
"""


@pytest.fixture
def make_house(mosquitto: MosquittoProcess, tmp_path: Path) -> Callable[..., House]:
    def make(lockout: str = "", cover: str = "") -> House:
        """``lockout``: a panel.lockout line; ``cover``: the duress user's appears_as."""
        path = tmp_path / "homeguard.yaml"
        path.write_text(
            HOUSE.format(
                port=mosquitto.port,
                lockout=f"  lockout: {lockout}" if lockout else "",
                cover=f", appears_as: {cover}" if cover else "",
                alice=_cheap(ALICE),
                bob=_cheap(BOB),
                duress=_cheap(DURESS),
            )
        )
        return House(mosquitto, path, tmp_path / "data")

    return make


def armed_away(controller: Controller, observer: Observer) -> None:
    observer.command("ARM_AWAY", ALICE)
    wait_until(lambda: controller.panel.state is PanelState.ARMED_AWAY, 10, "armed away")


# ------------------------------------------------------------------------ finding 1


def test_an_arm_only_code_between_guesses_no_longer_holds_off_the_lockout(
    make_house: Callable[..., House], observer: Observer
) -> None:
    """The reported attack: 4 guesses, bob's arm-only code, 4 guesses... over MQTT."""
    with running(make_house().site) as controller:
        armed_away(controller, observer)
        for round_ in range(3):
            for guess in range(4):
                observer.command("DISARM", f"{round_}{guess}00")
            observer.command("ARM_AWAY", BOB)  # accepted: already armed away
        observer.wait_for("home/alarm/event", event("locked_out"))
        sent = time.monotonic()
        observer.command("DISARM", ALICE)  # even the right code, while locked
        observer.wait_for("home/alarm/event", event("locked_out"), after=sent)
        assert controller.panel.state is PanelState.ARMED_AWAY
        assert len(observer.events("invalid_code")) == 5  # the rest were not even checked


def test_an_arm_only_code_disarming_counts_as_a_wrong_code(
    make_house: Callable[..., House], observer: Observer
) -> None:
    with running(make_house().site) as controller:
        armed_away(controller, observer)
        for _ in range(5):
            observer.command("DISARM", BOB)
        observer.wait_for("home/alarm/event", event("locked_out"))
        assert len(observer.events("not_authorized")) == 5
        assert controller.panel.code_lock.locked(time.time())


# ----------------------------------------------------------------------- finding 16


def test_lockouts_stop_growing_at_the_configured_cap(
    make_house: Callable[..., House], observer: Observer
) -> None:
    with running(make_house(lockout="{duration: 0.5, max_duration: 1}").site) as controller:
        armed_away(controller, observer)
        for lockout in range(4):
            for _ in range(5):
                observer.command("DISARM", "0000")
            wait_until(
                lambda n=lockout: len(observer.events("locked_out")) > n,
                10,
                "a lockout",  # type: ignore[misc]
            )
            until = controller.panel.code_lock.locked_until
            wait_until(lambda u=until: time.time() >= u, 5, "the lockout's end")  # type: ignore[misc]
    lengths = [e["until"] - e["timestamp"] for e in observer.events("locked_out")]  # type: ignore[operator]
    assert len(lengths) == 4
    assert lengths[0] == pytest.approx(0.5, abs=0.05)
    assert all(length == pytest.approx(1.0, abs=0.05) for length in lengths[1:])


# ------------------------------------------------------------------------ finding 3


def test_a_retained_command_is_refused_cleared_and_never_replayed(
    make_house: Callable[..., House], observer: Observer
) -> None:
    home = make_house()
    with running(home.site) as controller:
        # A user's command, published retained (mosquitto_pub -r): carried out once,
        # live, like any other; but the broker keeps it, and would hand it to every new
        # session of the controller's (or of one taking it over).
        disarm = json.dumps({"action": "DISARM", "code": ALICE})
        observer.publish("home/alarm/set", disarm, retain=True)
        observer.wait_for("home/alarm/state", "disarmed")
        armed_away(controller, observer)
    for _session in range(2):
        sent = time.monotonic()
        with running(home.site) as controller:
            observer.wait_for("home/alarm/state", "armed_away", after=sent)
            if _session == 0:
                observer.wait_for("home/alarm/event", event("command_rejected"), after=sent)
            time.sleep(0.5)  # what a replay would take to disarm
            assert controller.panel.state is PanelState.ARMED_AWAY
    (refused,) = observer.events("command_rejected")  # the second session had none
    assert refused["reason"] == "retained_command" and "DISARM" not in refused["description"]
    assert set(refused) == {"reason", "topic", "event", "description", "timestamp"}
    late = MqttClient(
        address=home.broker.address,
        client_id=client_id("late"),
        persistent=False,
        subscriptions=[("home/alarm/set", 1), ("home/alarm/state", 1)],
    )
    late.start()
    try:  # the retained state arrives; no retained command comes with it
        [message] = collect(late.messages, 1)
        assert message.topic == "home/alarm/state"
        time.sleep(0.5)  # a retained message would be sent with the state, not later
        assert late.messages.empty()
    finally:
        late.stop()
    with home.store() as store:
        assert store.count_system_events(event_type="command_rejected") == 1


def test_the_controller_account_may_clear_a_retained_command(tmp_path: Path) -> None:
    """On the broker homeguard provisions, the clearing is allowed by the ACL, and a
    user's own siren command is not (the MQTT path past the API's code check)."""
    root = tmp_path / "security"
    port = free_port()
    provision(house(port), root, NOW)
    files = SecurityFiles(root)
    broker = MosquittoProcess(
        tmp_path / "mosquitto", port, password_file=files.password_file, acl_file=files.acl_file
    )
    broker.start()
    secured = Secured(root, broker)
    try:
        cli = secured.client("cli")
        siren = secured.client("siren", [("home/control/alarm", 2)])
        cli.publish("home/alarm/set", '{"action": "DISARM", "code": "1234"}', retain=True)
        cli.publish("home/control/alarm", "OFF")  # refused by the ACL: only the controller
        assert cli.wait_published(5)
        controller = secured.client("controller", [("home/alarm/set", 1)])
        [kept] = collect(controller.messages, 1)
        assert kept.retain
        controller.publish("home/alarm/set", b"", retain=True)
        assert controller.wait_published(5)
        controller.stop()
        witness = secured.client("controller", [("home/alarm/set", 1), ("home/security/#", 1)])
        witness_sensor = secured.client("front")
        witness_sensor.publish("home/security/door/front", "OPEN")  # the control message
        [first] = collect(witness.messages, 1)
        assert first.topic == "home/security/door/front", "the retained command is still kept"
        assert siren.messages.empty()
        for client in (cli, siren, witness, witness_sensor):
            client.stop()
    finally:
        broker.stop()


# ------------------------------------------------------------------------ finding 6


def test_an_arm_only_user_cannot_bypass_a_zone_while_armed(
    make_house: Callable[..., House], observer: Observer
) -> None:
    with running(make_house().site) as controller:
        armed_away(controller, observer)
        from homeguard.core.signals import BypassRequest

        outcome = controller.request(BypassRequest("hall", True, BOB, source="api"))
        assert outcome.rejection is not None and outcome.rejection.reason == "not_allowed"
        outcome = controller.request(BypassRequest("hall", True, ALICE, source="api"))
        assert outcome.rejection is not None and outcome.rejection.reason == "not_allowed"
        observer.publish("home/security/motion/hall", "MOTION")
        observer.wait_for("home/alarm/state", "triggered")


# ----------------------------------------------------------------------- finding 11


def test_a_duress_disarm_looks_like_any_other_everywhere_an_intruder_looks(
    make_house: Callable[..., House], observer: Observer
) -> None:
    home = make_house(cover="alice")
    with running(home.site) as controller:
        armed_away(controller, observer)
        observer.publish("home/security/door/front", "OPEN")
        observer.wait_for("home/alarm/state", "pending")
        observer.command("DISARM", DURESS)
        observer.wait_for("home/alarm/state", "disarmed")
        wait_until(lambda: controller.stats.system_events >= 3, 10, "events stored")
    # The controller's heartbeat names its data directory, whose path here holds this
    # test's name: it says nothing of what happened.
    published = [
        m.payload.decode(errors="replace")
        for _, m in observer.seen
        if m.topic.startswith("home/") and m.topic != "home/alarm/controller"
    ]
    assert not any("duress" in p or "coerced" in p for p in published), published
    (disarmed,) = observer.events("disarmed")
    assert disarmed["user"] == "alice" and disarmed["previous"] == "pending"
    with home.store() as store:
        kinds = {e.event_type for e in store.system_events(limit=None)}
        (alert,) = store.silent_alerts()
    assert "duress" not in kinds and {"armed", "pending", "disarmed"} <= kinds
    assert alert.event_type == "duress" and alert.data == {"user": "coerced", "source": "mqtt"}
    shown = home.cli("events", "--json")
    assert shown.returncode == 0 and "disarmed" in shown.stdout
    assert "duress" not in shown.stdout and "coerced" not in shown.stdout
    owner = home.cli("events", "--duress")
    assert owner.returncode == 0 and "duress code used by coerced" in owner.stdout
