"""Fuzzing the controller's per-message path, without a broker.

Each message goes through the real intake (:func:`homeguard.services.intake.intake`:
route, open a signed payload, decode, build records) and what it yields is fed to the
panel engine, as the controller does. Whatever the topic and the bytes, on every kind of
route: the intake never raises, it yields valid engine inputs or a rejection (a
PayloadError with its reason), and input that is refused (by a decoder, a signature check
or the panel) leaves the panel as it was, apart from the wrong-code count that a refused
code adds to.
"""

from __future__ import annotations

import json
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeguard.adapters.codecs import RfSignal
from homeguard.adapters.mqtt import Message
from homeguard.adapters.topics import HomeAssistantTopics, SensorBinding, TopicMap
from homeguard.core import signing
from homeguard.core.codes import hash_pin
from homeguard.core.model import (
    Action,
    ArmMode,
    ModeTiming,
    PanelSettings,
    PanelState,
    SensorSpec,
    SensorType,
    User,
)
from homeguard.core.panel import Panel, handle, new_panel
from homeguard.core.records import DeviceRecord
from homeguard.core.signals import Availability, Command, SensorReport
from homeguard.errors import PayloadError, SecurityRejected
from homeguard.services.intake import Setup, Taken, intake
from homeguard.services.message_security import DeviceKey, MessageSecurity

BATCH = 20
FUZZ = settings(
    max_examples=10_000 // BATCH,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
T0 = 1764288000.0
SECRET = b"fuzz-secret"
PIN = "1234"
SENSORS = (
    SensorSpec("front", SensorType.DOOR),
    SensorSpec("living", SensorType.WINDOW),
    SensorSpec("hall", SensorType.MOTION),
    SensorSpec("lid", SensorType.TAMPER),
    SensorSpec("kitchen", SensorType.WINDOW),
    SensorSpec("porch", SensorType.WINDOW),
)
SETTINGS = PanelSettings(
    sensors=SENSORS,
    users=(User("alice", hash_pin(PIN, b"fuzzsalt", log2_n=2, r=1)),),
    modes={mode: ModeTiming(exit_delay=0, entry_delay=0) for mode in ArmMode},
)
RF = {"80650A": RfSignal.ACTIVE, "80650E": RfSignal.INACTIVE, "806507": RfSignal.TAMPER}
TOPICS = TopicMap.build(
    "home",
    [
        *(SensorBinding(s.id, s.type) for s in SENSORS[:4]),  # the native family
        # Two sensors of one RF bridge share its topic (a SharedRoute).
        SensorBinding("kitchen", SensorType.WINDOW, "tasmota", device="rfbridge", rf_codes=RF),
        SensorBinding(
            "porch",
            SensorType.WINDOW,
            "tasmota",
            device="rfbridge",
            rf_codes={"A1B2C3": RfSignal.ACTIVE},
        ),
    ],
    ["siren"],
    discovery=HomeAssistantTopics("homeassistant", "fuzz"),
)
OUR_CONFIG = "homeassistant/alarm_control_panel/fuzz/panel/config"
SIGNED = {"front", "lid"}
DEVICES: MappingProxyType[str, DeviceRecord] = MappingProxyType({})


def setup(trusted: bool = False) -> Setup:
    security = MessageSecurity(
        keys={sid: DeviceKey(SECRET) for sid in SIGNED}, window=30.0, trusted_commands=trusted
    )
    return Setup(TOPICS, SETTINGS, security, MappingProxyType({OUR_CONFIG: b"{}"}))


def armed_panel() -> Panel:
    panel = handle(new_panel(T0), SETTINGS, Command(Action.ARM_HOME, PIN), T0).panel
    assert panel.state is PanelState.ARMED_HOME
    return replace(panel, message_seqs={"front": 100, "lid": 100})


ARMED = armed_panel()


def take(panel: Panel, topic: str, payload: bytes, guard: Setup, retain: bool = False) -> Taken:
    """The real intake of one message (it must never raise), its yield checked."""
    taken = intake(Message(topic, payload, 1, retain, 1, False), guard, panel, DEVICES, T0)
    for event in taken.inputs:
        assert isinstance(event, SensorReport | Command | Availability), event
        if isinstance(event, SensorReport | Availability):
            assert SETTINGS.sensor(event.sensor_id) is not None
    if taken.rejection is not None:
        assert isinstance(taken.rejection, PayloadError) and taken.rejection.reason
    else:
        assert not taken.refusals  # a refusal is always a rejection too
    return taken


def feed(panel: Panel, taken: Taken) -> Panel:
    """The yield handed to the engine, as the controller does: a refused input leaves
    the panel as it was but for the wrong-code count."""
    for event in taken.inputs:
        outcome = handle(panel, SETTINGS, event, T0)
        if outcome.rejection is not None:
            assert unchanged_but_codes(panel, outcome.panel)
        panel = outcome.panel
    return panel


def unchanged_but_codes(before: Panel, after: Panel) -> bool:
    return replace(after, code_lock=before.code_lock) == before


# ------------------------------------------------------------------- strategies

SENSOR_TOPICS = [f"home/security/{s.type.value}/{s.id}" for s in SENSORS[:4]]
TOPIC_CHOICES = st.one_of(
    st.sampled_from(
        [
            *SENSOR_TOPICS,
            "home/security/door",  # the short form
            "home/security/tamper",
            "tele/rfbridge/RESULT",  # shared by two sensors
            "tele/rfbridge/LWT",  # their availability
            "home/alarm/set",
            "home/devices/front/availability",
            "home/devices/ghost/announce",
            "home/control/siren/state",
            "home/security/status",  # ignored: our own
            "homeassistant/status",
            OUR_CONFIG,
            "homeassistant/binary_sensor/fuzz/gone/config",  # stale: cleared
            "home/security/door/ghost",  # nobody's
        ]
    ),
    st.text(max_size=30),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["OPEN", "CLOSED", "TAMPER", "MOTION", "ON", "DISARM", "ARM_AWAY", PIN]),
)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
SENSOR_OBJECTS = st.dictionaries(
    st.sampled_from(["state", "seq", "ts", "battery", "sig", "contact", "x"]),
    JSON_VALUES,
    max_size=6,
)
COMMAND_OBJECTS = st.dictionaries(
    st.sampled_from(["action", "code", "force", "x"]), JSON_VALUES, max_size=4
)


def to_bytes(value: Any) -> bytes:
    return json.dumps(value).encode() if not isinstance(value, bytes) else value


RF_OBJECTS = st.dictionaries(
    st.just("RfReceived"),
    st.dictionaries(
        st.sampled_from(["Data", "Sync", "x"]),
        st.one_of(JSON_VALUES, st.sampled_from([*RF, "A1B2C3", "0x80650a", "FFFFFF"])),
        max_size=3,
    ),
)
PAYLOADS = st.one_of(
    st.binary(max_size=64),
    RF_OBJECTS.map(to_bytes),
    st.text(max_size=40).map(str.encode),
    SENSOR_OBJECTS.map(to_bytes),
    COMMAND_OBJECTS.map(to_bytes),
    st.sampled_from([b"OPEN", b"TAMPER", b"DISARM", b"TRIGGER", b"offline", b"ON", b"{}"]),
)


# ------------------------------------------------------------------------ tests
# Each example is a batch of BATCH messages fed in turn to one evolving panel, as the
# controller does: EXAMPLES x BATCH = 10,000 inputs per test, in a few seconds.


@FUZZ
@given(
    messages=st.lists(
        st.tuples(TOPIC_CHOICES, PAYLOADS, st.booleans()), min_size=BATCH, max_size=BATCH
    ),
    trusted=st.booleans(),
)
def test_any_message_on_any_topic(messages: list[tuple[str, bytes, bool]], trusted: bool) -> None:
    guard = setup(trusted)
    panel = ARMED
    for topic, payload, retain in messages:
        taken = take(panel, topic, payload, guard, retain)
        for event in taken.inputs:
            assert not (isinstance(event, SensorReport) and event.sensor_id in SIGNED), (
                "an unsigned or forged message reached a signing sensor"
            )
            assert not (retain and isinstance(event, Command)), "a retained command obeyed"
        panel = feed(panel, taken)


COMMANDS = st.tuples(
    st.one_of(st.sampled_from([a.value for a in Action]), JSON_VALUES),  # action
    st.one_of(st.sampled_from([PIN, "0000", "", None]), JSON_VALUES),  # code
    JSON_VALUES,  # force
    st.booleans(),  # a plain word rather than an object
)


@FUZZ
@given(
    commands=st.lists(COMMANDS, min_size=BATCH, max_size=BATCH),
    trusted=st.booleans(),
    locked=st.booleans(),
)
def test_the_command_topic(
    commands: list[tuple[Any, Any, Any, bool]], trusted: bool, locked: bool
) -> None:
    guard = setup(trusted)
    panel = ARMED
    if locked:
        lock = replace(panel.code_lock, locked_until=T0 + 60, lockouts=1)
        panel = replace(panel, code_lock=lock)
    for action, code, force, plain in commands:
        body = json.dumps(action if plain else {"action": action, "code": code, "force": force})
        taken = take(panel, "home/alarm/set", body.encode(), guard)
        if taken.rejection is not None:
            assert taken.inputs == ()
            assert PIN not in str(taken.rejection)  # a refusal never quotes a code
            continue
        [command] = taken.inputs
        assert isinstance(command, Command)
        assert command.trusted is trusted
        outcome = handle(panel, SETTINGS, command, T0)
        changed = outcome.panel.state is not panel.state
        if changed and command.action is not Action.TRIGGER:
            # Only a right code, or no code on a trusted topic, changes the panel...
            assert command.code == PIN or (trusted and command.code is None)
            # ... and while code entry is locked, no code does.
            assert command.code is None or not panel.code_lock.locked(T0)
        if outcome.rejection is not None:
            assert unchanged_but_codes(panel, outcome.panel)
        panel = outcome.panel


SIGNED_MESSAGES = st.tuples(
    st.sampled_from(sorted(SIGNED)),  # the sensor whose topic it arrives on
    st.sampled_from(["OPEN", "CLOSED", "TAMPER", "ON", "OFF", "MOTION", "NO_MOTION"]),
    st.integers(0, 2**53 - 1) | st.integers(90, 130),  # seq
    st.floats(-100, 100, allow_nan=False),  # ts - now
    st.sampled_from([SECRET, b"wrong"]),
    st.sampled_from(["front", "lid", "living"]),  # the device id it was signed for
    st.dictionaries(st.sampled_from(["battery", "x", "note"]), SCALARS, max_size=2),
    st.sampled_from([None, None, "state", "seq", "ts", "sig", "drop_sig"]),  # tampering
)


@FUZZ
@given(messages=st.lists(SIGNED_MESSAGES, min_size=BATCH, max_size=BATCH))
def test_signed_payloads(messages: list[tuple[Any, ...]]) -> None:
    guard = setup()
    panel = ARMED
    for sensor, state, seq, skew, secret, signer, extra, tamper in messages:
        fields = {**extra, "state": state, "seq": seq, "ts": T0 + skew}
        try:
            signed = signing.sign(secret, signer, fields)
        except SecurityRejected:
            continue  # not representable (a huge integer, a lone surrogate): never sent
        if tamper == "drop_sig":
            del signed["sig"]
        elif tamper == "sig":
            signed["sig"] = signed["sig"][::-1]
        elif tamper is not None:
            signed[tamper] = {"state": "OPEN", "seq": seq + 1, "ts": T0}[tamper]
        unsigned = {k: v for k, v in signed.items() if k != "sig"}
        genuine = (
            secret == SECRET
            and signer == sensor
            and tamper not in ("sig", "drop_sig")
            and json.loads(json.dumps(unsigned)) == json.loads(json.dumps(fields))
        )
        fresh = seq > panel.message_seqs[sensor] and abs(skew) <= 30
        spec = SETTINGS.sensor(sensor)
        assert spec is not None
        topic = f"home/security/{spec.type.value}/{sensor}"
        taken = take(panel, topic, json.dumps(signed).encode(), guard)
        if isinstance(taken.rejection, SecurityRejected):
            assert not (genuine and fresh), "a genuine, new and recent message was refused"
            assert [r.sensor_id for r in taken.refusals] == [sensor]  # said, as security
            assert taken.inputs == () and taken.sensor_events == ()
            continue
        if taken.rejection is not None:  # signed right, but says what it cannot say
            assert genuine and fresh
            continue
        assert genuine and fresh, "a forged, altered, replayed or stale message was accepted"
        [report] = taken.inputs
        assert isinstance(report, SensorReport) and report.seq == seq
        panel = feed(panel, taken)
        assert panel.message_seqs[sensor] == seq  # the engine keeps it: the replay floor
