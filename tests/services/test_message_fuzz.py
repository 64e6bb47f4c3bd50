"""Fuzzing the controller's per-message path, without a broker.

:func:`deliver` is the controller's path for one message as pure code: the topic map
routes it, the signing checks open it (for a signing sensor), the codecs decode it and
the panel engine handles it. Whatever the topic and the bytes: nothing but PayloadError
escapes, and input that is refused (by a decoder, a signature check or the panel) leaves
the panel as it was, apart from the wrong-code count that a refused code adds to.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeguard.adapters.codecs import (
    decode_announce,
    decode_availability,
    decode_command,
    decode_sensor,
    decode_switch,
)
from homeguard.adapters.topics import (
    ActuatorStateRoute,
    AnnounceRoute,
    AvailabilityRoute,
    CommandRoute,
    IgnoredRoute,
    SensorBinding,
    SensorRoute,
    TopicMap,
)
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
from homeguard.core.panel import Outcome, Panel, handle, new_panel
from homeguard.core.signals import Availability, Command, SensorReport
from homeguard.errors import PayloadError, SecurityRejected
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
)
SETTINGS = PanelSettings(
    sensors=SENSORS,
    users=(User("alice", hash_pin(PIN, b"fuzzsalt", log2_n=2, r=1)),),
    modes={mode: ModeTiming(exit_delay=0, entry_delay=0) for mode in ArmMode},
)
TOPICS = TopicMap.build(
    "home", [SensorBinding(s.id, s.type) for s in SENSORS], ["siren"]
)  # every sensor of the native family
SIGNED = {"front", "lid"}


def security(trusted: bool = False) -> MessageSecurity:
    return MessageSecurity(
        keys={sid: DeviceKey(SECRET) for sid in SIGNED}, window=30.0, trusted_commands=trusted
    )


def armed_panel() -> Panel:
    panel = handle(new_panel(T0), SETTINGS, Command(Action.ARM_HOME, PIN), T0).panel
    assert panel.state is PanelState.ARMED_HOME
    return replace(panel, message_seqs={"front": 100, "lid": 100})


ARMED = armed_panel()


def deliver(
    panel: Panel, topic: str, payload: bytes, now: float, guard: MessageSecurity
) -> Outcome | None:
    """The controller's per-message path; None when the message only informs."""
    route = TOPICS.route(topic)
    if isinstance(route, SensorRoute):
        last = panel.message_seqs.get(route.sensor_id)
        body, seq = guard.open_sensor(route.sensor_id, payload, last, now)
        reading = decode_sensor(route.family, route.sensor_type, body)
        if seq is not None:
            panel = replace(panel, message_seqs={**panel.message_seqs, route.sensor_id: seq})
        return handle(panel, SETTINGS, SensorReport(route.sensor_id, reading.state), now)
    if isinstance(route, CommandRoute):
        return handle(panel, SETTINGS, guard.command(decode_command(payload)), now)
    if isinstance(route, AvailabilityRoute):
        online = decode_availability(payload)
        if SETTINGS.sensor(route.device_id) is None:
            return None
        return handle(panel, SETTINGS, Availability(route.device_id, online), now)
    if isinstance(route, AnnounceRoute):
        decode_announce(route.device_id, payload)
    elif isinstance(route, ActuatorStateRoute):
        decode_switch(payload)
    else:
        assert isinstance(route, IgnoredRoute)
    return None


def unchanged_but_codes(before: Panel, after: Panel) -> bool:
    return replace(after, code_lock=before.code_lock) == before


# ------------------------------------------------------------------- strategies

SENSOR_TOPICS = [f"home/security/{s.type.value}/{s.id}" for s in SENSORS]
TOPIC_CHOICES = st.one_of(
    st.sampled_from(
        [
            *SENSOR_TOPICS,
            "home/security/door",
            "home/security/tamper",
            "home/alarm/set",
            "home/devices/front/availability",
            "home/devices/ghost/announce",
            "home/control/siren/state",
            "home/security/status",
            "home/security/door/ghost",
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


PAYLOADS = st.one_of(
    st.binary(max_size=64),
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
    messages=st.lists(st.tuples(TOPIC_CHOICES, PAYLOADS), min_size=BATCH, max_size=BATCH),
    trusted=st.booleans(),
)
def test_any_message_on_any_topic(messages: list[tuple[str, bytes]], trusted: bool) -> None:
    guard = security(trusted)
    panel = ARMED
    for topic, payload in messages:
        try:
            outcome = deliver(panel, topic, payload, T0, guard)
        except PayloadError:  # SecurityRejected included: refused before the panel
            continue
        if outcome is None:
            continue
        route = TOPICS.route(topic)
        assert not (isinstance(route, SensorRoute) and route.sensor_id in SIGNED), (
            "an unsigned or forged message reached a signing sensor"
        )
        if outcome.rejection is not None:
            assert unchanged_but_codes(panel, outcome.panel)
        panel = outcome.panel


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
    guard = security(trusted)
    panel = ARMED
    if locked:
        lock = replace(panel.code_lock, locked_until=T0 + 60, lockouts=1)
        panel = replace(panel, code_lock=lock)
    for action, code, force, plain in commands:
        body = json.dumps(action if plain else {"action": action, "code": code, "force": force})
        try:
            command = guard.command(decode_command(body.encode()))
        except PayloadError as exc:
            refusal = str(exc)
            assert PIN not in refusal  # a refusal never quotes a code
            continue
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
    guard = security()
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
        try:
            outcome = deliver(panel, topic, json.dumps(signed).encode(), T0, guard)
        except SecurityRejected:
            assert not (genuine and fresh), "a genuine, new and recent message was refused"
            continue
        except PayloadError:  # signed right, but says what this sensor cannot say
            assert genuine and fresh
            continue
        assert outcome is not None
        assert genuine and fresh, "a forged, altered, replayed or stale message was accepted"
        assert outcome.panel.message_seqs[sensor] == seq
        panel = outcome.panel
