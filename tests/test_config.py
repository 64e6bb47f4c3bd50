"""The YAML configuration: what loads, what the engine gets, and every refusal's line."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from homeguard.adapters.codecs import Family
from homeguard.config import (
    Config,
    SensorConfig,
    bundled_example,
    default_config_path,
    load_config,
    parse_config,
    yaml_lines,
)
from homeguard.core import codes
from homeguard.core.model import (
    ArmMode,
    CodePolicy,
    ModeTiming,
    SensorSpec,
    SensorType,
    ZoneKind,
)
from homeguard.errors import ConfigError

REAL_HASH_PIN = codes.hash_pin


@pytest.fixture(autouse=True)
def cheap_pin_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at its real cost takes ~50 ms a PIN; the cost travels in the hash, so a
    cheap hash still verifies with codes.verify_pin."""
    monkeypatch.setattr(
        codes, "hash_pin", lambda pin, salt: REAL_HASH_PIN(pin, salt, log2_n=4, r=1)
    )


def cheap_hash(pin: str) -> str:
    return REAL_HASH_PIN(pin, b"0123456789abcdef", log2_n=4, r=1)


ISSUE_SHAPE = """\
mqtt: {host: 127.0.0.1, port: 1883, base_topic: home}
storage: {path: homeguard.db}
panel:
  disarm_after_trigger: false
  modes:
    armed_away: {exit_delay: 60, entry_delay: 30, siren_time: 300}
    armed_home: {exit_delay: 0, entry_delay: 30, siren_time: 300}
users:
  - {name: alice, pin: "1234"}
  - {name: coerced, pin: "9999", duress: true}
sensors:
  - {id: front, type: door, zone: entry}
  - {id: living, type: window, zone: perimeter}
  - {id: hall, type: motion, zone: interior}
  - {id: lid, type: tamper, zone: 24h}
actuators:
  - {id: siren, type: siren}
  - {id: light, type: light}
"""

# Block style, so that every key has a line of its own. Line numbers in the comments.
BLOCK = """\
mqtt:
  host: broker.lan
  base_topic: home
panel:
  modes:
    armed_away:
      exit_delay: 60
      siren_time: 300
users:
  - name: alice
    pin: "1234"
  - name: coerced
    pin: "9999"
    duress: true
sensors:
  - id: front
    type: door
  - id: living
    type: window
    zone: perimeter
actuators:
  - id: siren
    type: siren
"""
# 1 mqtt / 2 host / 3 base_topic / 4 panel / 5 modes / 6 armed_away / 7 exit_delay /
# 8 siren_time / 9 users / 10 - name: alice / 11 pin / 12 - name: coerced / 13 pin /
# 14 duress / 15 sensors / 16 - id: front / 17 type / 18 - id: living / 19 type /
# 20 zone / 21 actuators / 22 - id: siren / 23 type


def block(*changes: tuple[str, str]) -> str:
    text = BLOCK
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def config_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "homeguard.yaml")
    return str(caught.value)


# ------------------------------------------------------------------------ loading


def test_the_issue_shape_loads_and_becomes_panel_settings() -> None:
    config = parse_config(ISSUE_SHAPE)
    settings = config.panel_settings()

    assert config.mqtt.host == "127.0.0.1"
    assert config.mqtt.base_topic == "home"
    assert config.storage.path == "homeguard.db"
    assert [(a.id, a.type.value) for a in config.actuators] == [
        ("siren", "siren"),
        ("light", "light"),
    ]
    assert settings.sensors == (
        SensorSpec("front", SensorType.DOOR, ZoneKind.ENTRY),
        SensorSpec("living", SensorType.WINDOW, ZoneKind.PERIMETER),
        SensorSpec("hall", SensorType.MOTION, ZoneKind.INTERIOR),
        SensorSpec("lid", SensorType.TAMPER, ZoneKind.ALWAYS),
    )
    assert [(u.name, u.duress, u.can_arm, u.can_disarm) for u in settings.users] == [
        ("alice", False, True, True),
        ("coerced", True, True, True),
    ]
    alice, coerced = settings.users
    assert codes.verify_pin(alice.pin_hash, "1234")
    assert codes.verify_pin(coerced.pin_hash, "9999")
    assert not codes.verify_pin(alice.pin_hash, "9999")
    assert dict(settings.modes) == {
        ArmMode.AWAY: ModeTiming(60, 30, 300),
        ArmMode.HOME: ModeTiming(0, 30, 300),
        ArmMode.NIGHT: ModeTiming(),  # missing modes take every default
        ArmMode.VACATION: ModeTiming(),
    }
    assert settings.timing(ArmMode.HOME).exit_delay == 0
    assert settings.disarm_after_trigger is False
    assert settings.code_arm_required is True
    assert settings.swinger_limit == 2
    assert settings.codes == CodePolicy(max_failures=5, window=300, lockout=60)
    assert settings.codes_required


def test_defaults_fill_what_is_left_out() -> None:
    config = parse_config(
        "sensors: [{id: d, type: door}, {id: m, type: motion, modes: [armed_home]}]\n"
        "panel:\n"
        "  modes: {armed_night: {siren_time: 120}}\n"
        "  lockout: {max_failures: 3, window: 120, duration: 30}\n"
    )
    settings = config.panel_settings()
    door, motion = settings.sensors
    assert door.zone is None and door.zone_kind is ZoneKind.ENTRY  # from the type
    assert motion.modes == frozenset({ArmMode.HOME})
    assert motion.watched_in(ArmMode.HOME) and not motion.watched_in(ArmMode.AWAY)
    assert settings.timing(ArmMode.NIGHT) == ModeTiming(60, 30, 120)
    assert settings.codes == CodePolicy(max_failures=3, window=120, lockout=30)
    assert settings.users == () and not settings.codes_required
    assert config.mqtt.host is None and config.mqtt.port == 1883
    assert config.mqtt.client_id == "homeguard-controller" and config.mqtt.keepalive == 30
    assert config.storage.retention_days == 365 and config.storage.synchronous == "full"
    assert config.simulation.motion_duration == (5, 15)
    assert config.web.port == 8080
    assert config.sensors[0].family == "homeguard" and config.sensors[0].topic is None


def test_sensor_options_reach_the_engine() -> None:
    text = (
        "sensors:\n"
        "  - id: garage\n"
        "    type: door\n"
        "    name: Garage\n"
        "    modes: [armed_away, armed_night]\n"
        "    entry_delay: 45\n"
        "    supervision: 3600\n"
        "    trigger_unavailable: true\n"
        "    unavailable_debounce: 120\n"
        "    family: zigbee2mqtt\n"
        "    topic: zigbee2mqtt/garage_door\n"
        "    availability_topic: zigbee2mqtt/garage_door/availability\n"
    )
    config = parse_config(text)
    assert config.panel_settings().sensors == (
        SensorSpec(
            id="garage",
            type=SensorType.DOOR,
            modes=frozenset({ArmMode.AWAY, ArmMode.NIGHT}),
            entry_delay=45,
            supervision=3600,
            trigger_unavailable=True,
            unavailable_debounce=120,
            name="Garage",
        ),
    )
    assert config.sensors[0].family == "zigbee2mqtt"
    assert config.sensors[0].topic == "zigbee2mqtt/garage_door"


def test_config_is_frozen() -> None:
    config = parse_config(ISSUE_SHAPE)
    with pytest.raises(ValidationError):
        config.mqtt.port = 1


def test_family_is_the_codecs_one() -> None:
    family = Config.model_fields["sensors"].annotation
    sensor_model = typing.get_args(family)[0]
    assert yaml_lines.section_fields(sensor_model)["family"].annotation is Family


# ------------------------------------------------------------- refusals, with lines

CASES = [
    pytest.param(
        block(("      exit_delay: 60", "      exit_dealy: 60")),
        7,
        "panel.modes.armed_away.exit_dealy: unknown key (did you mean 'exit_delay'?)",
        id="unknown-key-nested",
    ),
    pytest.param(
        block(("    zone: perimeter", "    zone: perimeter\n    colour: red")),
        21,
        "sensors[1].colour: unknown key (known: id, type, zone",
        id="unknown-key-in-list-item",
    ),
    pytest.param(BLOCK + "alarms: {}\n", 24, "alarms: unknown key", id="unknown-section"),
    pytest.param(
        "sensors:\n  - front\n",
        2,
        "sensors[0]: Input should be a mapping of keys to values",
        id="sensor-not-a-mapping",
    ),
    pytest.param(
        block(("    zone: perimeter", "    zone: outside")),
        20,
        "sensors[1].zone: Input should be 'entry', 'perimeter', 'interior' or '24h'",
        id="wrong-zone",
    ),
    pytest.param(
        block(("    type: window", "    type: skylight")),
        19,
        "sensors[1].type: Input should be 'door', 'window', 'motion'",
        id="wrong-type",
    ),
    pytest.param(
        block(("    armed_away:", "    armed_out:")),
        6,
        "panel.modes.armed_out: Input should be 'armed_away', 'armed_home'",
        id="unknown-mode",
    ),
    pytest.param(
        block(("      exit_delay: 60", "      exit_delay: -5")),
        7,
        "panel.modes.armed_away.exit_delay: Input should be greater than or equal to 0",
        id="negative-delay",
    ),
    pytest.param(
        block(("      siren_time: 300", "      siren_time: 0")),
        8,
        "panel.modes.armed_away.siren_time: Input should be greater than 0",
        id="zero-siren-time",
    ),
    pytest.param(
        block(("  - id: living", "  - id: front")),
        18,
        "sensors[1].id: duplicate sensor id (also sensors[0])",
        id="duplicate-sensor-id",
    ),
    pytest.param(
        block(("    type: siren", "    type: siren\n  - id: siren\n    type: light")),
        24,
        "actuators[1].id: duplicate actuator id (also actuators[0])",
        id="duplicate-actuator-id",
    ),
    pytest.param(
        block(("  - name: coerced", "  - name: alice")),
        12,
        "users[1].name: duplicate user name (also users[0])",
        id="duplicate-user-name",
    ),
    pytest.param(
        block(('    pin: "1234"', '    pin: "1234"\n    appears_as: bea')),
        12,
        "users[0].appears_as: appears_as is for duress users only",
        id="appears-as-without-duress",
    ),
    pytest.param(
        block(("  modes:", "  lockout: {duration: 120, max_duration: 60}\n  modes:")),
        5,
        "panel.lockout.max_duration: must be at least duration",
        id="lockout-cap-below-first-lockout",
    ),
    pytest.param(
        block(('    pin: "9999"', '    pin: "1234"')),
        13,
        "users[1].pin: the same PIN as users[0]",
        id="duress-pin-equals-normal-pin",
    ),
    pytest.param(
        block(('    pin: "9999"', f'    pin: "9999"\n    pin_hash: "{cheap_hash("5555")}"')),
        12,
        "users[1]: give either pin or pin_hash, not both",
        id="pin-and-pin-hash",
    ),
    pytest.param(
        block(('    pin: "9999"', "    pin: 9999")),
        13,
        'users[1].pin: write the PIN in quotes (pin: "0123")',
        id="unquoted-pin",
    ),
    pytest.param(
        block(('    pin: "9999"', '    pin: "99a9"')), 13, "users[1].pin: a PIN is 4 to 12 digits"
    ),
    pytest.param(
        block(('    pin: "9999"', '    pin: "999"')), 13, "users[1].pin: a PIN is 4 to 12 digits"
    ),
    pytest.param(
        block(('    pin: "9999"', "    pin_hash: md5$abc")),
        13,
        "users[1].pin_hash: is not a homeguard PIN hash",
        id="bad-pin-hash",
    ),
    pytest.param(
        block(('    pin: "9999"\n', "")),
        12,
        "users[1].pin_hash: missing (required)",
        id="no-pin",
    ),
    pytest.param(
        block(("    type: door\n", "")),
        16,
        "sensors[0].type: missing (required)",
        id="missing-type",
    ),
    pytest.param(
        block(("  - id: front", "  - id: front/door")),
        16,
        "sensors[0].id: String should match pattern",
        id="id-with-slash",
    ),
    pytest.param(
        block(("    zone: perimeter", "    zone: perimeter\n    entry_delay: 10")),
        21,
        "sensors[1].entry_delay: only entry zones have an entry delay (this one is perimeter)",
        id="entry-delay-on-window",
    ),
    pytest.param(
        block(("    zone: perimeter", "    zone: 24h\n    modes: [armed_away]")),
        21,
        "sensors[1].modes: a 24h zone is watched in every state",
        id="modes-on-24h-zone",
    ),
    pytest.param(
        block(("    zone: perimeter", "    zone: perimeter\n    family: zwave")),
        21,
        "sensors[1].family: Input should be 'homeguard', 'zigbee2mqtt'",
        id="unknown-family",
    ),
    pytest.param(
        block(("    zone: perimeter", "    zone: perimeter\n    topic: zigbee2mqtt/+")),
        21,
        "sensors[1].topic: must not contain a wildcard ('+' or '#')",
        id="wildcard-topic",
    ),
    pytest.param(
        block(("    zone: perimeter", '    zone: perimeter\n    topic: "garden/gate\\t"')),
        21,
        "sensors[1].topic: must not contain U+0009",
        id="control-character-in-topic",
    ),
    pytest.param(
        block(
            (
                "    zone: perimeter",
                "    zone: perimeter\n    family: zigbee2mqtt\n    device: gate/+",
            )
        ),
        22,
        "sensors[1].device: must not contain a wildcard",
        id="wildcard-in-device-name",
    ),
    pytest.param(
        block(("  base_topic: home", "  base_topic: home/#")),
        3,
        "mqtt.base_topic: must not contain a wildcard ('+' or '#')",
        id="wildcard-base-topic",
    ),
    pytest.param(
        block(("  base_topic: home", "  base_topic: $home")),
        3,
        "mqtt.base_topic: must not start with '$' (reserved for the broker)",
        id="reserved-base-topic",
    ),
    pytest.param(
        BLOCK + "home_assistant:\n  prefix: homeassistant/\n",
        25,
        "home_assistant.prefix: must not start or end with '/'",
        id="slash-discovery-prefix",
    ),
    pytest.param(
        block(("  base_topic: home", "  base_topic: /home")),
        3,
        "mqtt.base_topic: must not start or end with '/'",
        id="slash-base-topic",
    ),
    pytest.param(
        block(("  host: broker.lan", "  host: broker.lan\n  port: 70000")),
        3,
        "mqtt.port: Input should be less than or equal to 65535",
        id="port-out-of-range",
    ),
    pytest.param(
        block(("  host: broker.lan", "  host: broker.lan\n  tls:\n    cert_file: c.crt")),
        4,
        "mqtt.tls.key_file: cert_file and key_file go together",
        id="cert-without-key",
    ),
    pytest.param(
        BLOCK + "simulation:\n  motion_duration: [15, 5]\n",
        25,
        "simulation.motion_duration: must be [min, max] with 0 <= min <= max",
        id="reversed-motion-duration",
    ),
    pytest.param(
        block(("  - name: alice", "  - name: 1234")),
        10,
        "users[0].name: Input should be a valid string (put it in quotes",
        id="number-for-a-name",
    ),
    pytest.param(
        block(("  base_topic: home", "  base_topic: home\n  host: other")),
        4,
        "mqtt.host: duplicate key (first at line 2)",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        BLOCK + "panel: {}\n",
        24,
        "panel: duplicate key (first at line 4)",
        id="duplicate-section",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), CASES)
def test_a_mistake_names_its_key_and_line(text: str, line: int, message: str) -> None:
    assert config_error(text).startswith(f"homeguard.yaml line {line}: {message}")


def test_a_yaml_syntax_error_names_its_line() -> None:
    text = block(("    type: window", "    type: [window"))
    message = config_error(text)
    assert message.startswith("homeguard.yaml line ")
    assert "YAML error" in message and "line 19" in message  # where the '[' opened


def test_a_tab_indent_names_its_line() -> None:
    message = config_error(block(("  host: broker.lan", "\thost: broker.lan")))
    assert message.startswith("homeguard.yaml line 2: YAML error")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n", "---\n"])
def test_an_empty_file_is_refused(text: str) -> None:
    assert config_error(text).startswith("homeguard.yaml line 1: the file is empty")


@pytest.mark.parametrize("text", ["- mqtt\n", "just words\n", "42\n"])
def test_the_file_must_be_a_mapping(text: str) -> None:
    assert "must be a mapping of sections" in config_error(text)


def test_every_mistake_is_listed_in_line_order() -> None:
    text = block(
        ("    zone: perimeter", "    zone: outside"),
        ("      exit_delay: 60", "      exit_delay: -1"),
        ("  host: broker.lan", "  hots: broker.lan"),
    )
    lines = config_error(text).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "homeguard.yaml line 2",
        "homeguard.yaml line 7",
        "homeguard.yaml line 20",
    ]


def test_unsafe_yaml_tags_are_refused() -> None:
    message = config_error("mqtt: !!python/object/apply:os.system [echo hi]\n")
    assert message.startswith("homeguard.yaml line 1: YAML error")


def test_absurd_nesting_is_a_config_error() -> None:
    # libyaml says "exceeded maximum nesting depth"; PyYAML's own parser recurses until
    # Python's limit, which homeguard reports as "nested too deeply".
    message = config_error("a: " + "[" * 1000)
    assert "nest" in message
    assert message.startswith("homeguard.yaml")


def test_aliases_are_walked_once() -> None:
    # A "billion laughs" document must neither hang the duplicate-key walk nor load.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert "unknown key" in config_error("\n".join(lines) + "\n")


def test_the_data_keeps_none_of_the_nodes_strings() -> None:
    # So that the node tree, dropped once read, leaves nothing alive among its objects
    # and its memory can go back to the system (a config of 100,000 sensors).
    root, data = yaml_lines.compose("sensors:\n  - {id: front, type: door}\n")
    assert isinstance(root, yaml.MappingNode)
    [(_, sensors)] = root.value
    [(key, value), _] = sensors.value[0].value
    [sensor] = data["sensors"]
    assert sensor["id"] == value.value == "front"
    assert sensor["id"] is not value.value
    assert next(iter(sensor)) is not key.value


def test_a_plain_pin_in_the_config_is_known_from_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config("users: [{name: carol, pin: '8642'}]\n")
    [carol] = config.users
    monkeypatch.setattr(codes, "_scrypt", None)  # not called
    assert carol.pin_hash is not None and codes.check_code(carol.pin_hash, "8642")
    assert not codes.check_code(carol.pin_hash, "8641")


def test_a_command_that_checks_no_code_loads_the_config_without_scrypt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "users: [{name: carol, pin: '8642', password: 'open sesame'}]\n"
    monkeypatch.setattr(codes, "_scrypt", None)  # not called
    [carol] = parse_config(text, hash_codes=False).users
    assert carol.pin_hash == carol.password_hash == codes.NO_CODE
    monkeypatch.undo()
    for code in ("8642", "open sesame", ""):  # no code matches, not even the right one
        assert not codes.check_code(carol.pin_hash, code)
        assert not codes.verify_pin(carol.pin_hash, code)
    with pytest.raises(ConfigError, match="4 to 12 digits"):  # still checked
        parse_config("users: [{name: carol, pin: '86'}]\n", hash_codes=False)
    assert parse_config(text).users[0].pin_hash != codes.NO_CODE  # hashed by default


# ---------------------------------------------------------------------------- files


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "homeguard.yaml"
    path.write_text(ISSUE_SHAPE, encoding="utf-8")
    assert load_config(path).sensors[0].id == "front"
    assert load_config(str(path)).sensors[0].id == "front"


def test_load_config_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(block(("    zone: perimeter", "    zone: outside")), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"site\.yaml line 20: sensors\[1\]\.zone: "):
        load_config(path)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read the configuration"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        load_config(tmp_path)  # a directory


def test_an_empty_file_on_disk_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "homeguard.yaml"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"homeguard\.yaml line 1: the file is empty"):
        load_config(path)


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "homeguard.yaml"
    path.write_bytes(b"mqtt:\n  host: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"homeguard\.yaml line 2: the file is not UTF-8"):
        load_config(path)


def test_relative_file_paths_are_next_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "homeguard.yaml"
    path.write_text(
        "mqtt:\n  tls: {ca_file: certs/ca.crt, cert_file: /etc/c.crt, key_file: c.key}\n"
        "security: {provisioned: site/security}\n",
        encoding="utf-8",
    )
    config = load_config(path)
    tls = config.mqtt.tls
    assert tls is not None
    assert tls.ca_file == tmp_path / "certs" / "ca.crt"
    assert tls.cert_file == Path("/etc/c.crt")
    assert tls.key_file == tmp_path / "c.key"
    assert config.security.provisioned == tmp_path / "site" / "security"
    assert parse_config("security: {provisioned: here}\n").security.provisioned == Path("here")


# ------------------------------------------------------------------------- secrets


def every_view(config: Config) -> Iterator[str]:
    yield repr(config)
    yield str(config)
    yield repr(config.model_dump())
    yield config.model_dump_json()
    yield repr(config.panel_settings())
    yield repr(config.users)


def test_a_plain_pin_is_hashed_and_never_kept() -> None:
    config = parse_config(ISSUE_SHAPE.replace('"1234"', '"735190"'))
    for view in every_view(config):
        assert "735190" not in view
    assert "pin" not in config.users[0].model_dump()
    assert "pin" not in config.users[0].model_fields_set
    pin_hash = config.panel_settings().users[0].pin_hash
    assert codes.is_pin_hash(pin_hash)
    assert codes.verify_pin(pin_hash, "735190")


def test_a_pin_never_appears_in_an_error() -> None:
    text = ISSUE_SHAPE.replace('{name: alice, pin: "1234"}', '{nmae: alice, pin: "735190"}')
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert "735190" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    duplicated = ISSUE_SHAPE.replace('"1234"', '"735190"').replace('"9999"', '"735190"')
    assert "735190" not in config_error(duplicated)
    with pytest.raises(ValidationError) as raw:  # straight from Python, too
        Config.model_validate({"users": [{"pin": "735190", "colour": "735190"}]})
    assert "735190" not in str(raw.value)


def test_real_hashing_salts_each_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codes, "hash_pin", REAL_HASH_PIN)
    first = parse_config("users: [{name: a, pin: '2468'}]").users[0].pin_hash
    second = parse_config("users: [{name: a, pin: '2468'}]").users[0].pin_hash
    assert first.startswith(f"scrypt${codes.DEFAULT_LOG2_N}$")
    assert first != second  # a fresh random salt each load
    assert codes.verify_pin(first, "2468") and codes.verify_pin(second, "2468")


def test_the_pin_hash_form_loads_as_given() -> None:
    hashed = cheap_hash("2468")
    config = parse_config(f"users: [{{name: bob, pin_hash: '{hashed}', can_arm: false}}]")
    (bob,) = config.panel_settings().users
    assert bob.pin_hash == hashed and not bob.can_arm and bob.can_disarm
    assert codes.verify_pin(bob.pin_hash, "2468")


def test_a_plain_pin_equal_to_another_users_hashed_pin_is_refused() -> None:
    text = (
        "users:\n"
        f"  - {{name: bob, pin_hash: '{cheap_hash('2468')}'}}\n"
        "  - {name: eve, pin: '2468', duress: true}\n"
    )
    message = config_error(text)
    assert message.startswith("homeguard.yaml line 3: users[1].pin: the same PIN as users[0]")
    hashed = cheap_hash("1357")
    same_hash = f"users: [{{name: a, pin_hash: '{hashed}'}}, {{name: b, pin_hash: '{hashed}'}}]\n"
    assert "users[1].pin_hash: the same PIN as users[0]" in config_error(same_hash)


def test_passwords_are_never_shown() -> None:
    config = parse_config(
        "mqtt: {username: ctl, password: hunter2}\n"
        "users: [{name: alice, pin: '1234', password: swordfish}]\n"
    )
    for view in every_view(config):
        assert "hunter2" not in view and "swordfish" not in view
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "hunter2"
    password_hash = config.users[0].password_hash  # hashed at load, like the PIN
    assert password_hash is not None and codes.verify_pin(password_hash, "swordfish")
    assert "hunter2" not in config_error("mqtt: {password: hunter2, pasword: hunter2}\n")


# ----------------------------------------------------------------- bundled example


def test_the_bundled_example_house_loads() -> None:
    path = bundled_example()
    assert path.name == "house.yaml" and path.parent.name == "examples"
    config = load_config(path)
    settings = config.panel_settings()
    zones = {s.id: (s.type, s.zone_kind) for s in settings.sensors}
    assert zones == {
        "front": (SensorType.DOOR, ZoneKind.ENTRY),
        "back": (SensorType.DOOR, ZoneKind.ENTRY),
        "living": (SensorType.WINDOW, ZoneKind.PERIMETER),
        "bedroom": (SensorType.WINDOW, ZoneKind.PERIMETER),
        "hall": (SensorType.MOTION, ZoneKind.INTERIOR),
        "lid": (SensorType.TAMPER, ZoneKind.ALWAYS),
    }
    assert {s.supervision for s in settings.sensors} == {60}
    assert {(a.id, a.type.value) for a in config.actuators} == {
        ("siren", "siren"),
        ("light", "light"),
    }
    alice, duress = settings.users
    assert alice.name == "alice" and codes.verify_pin(alice.pin_hash, "1234")
    assert duress.duress and codes.verify_pin(duress.pin_hash, "9999")
    assert settings.timing(ArmMode.HOME).exit_delay == 0
    assert config.mqtt.host is None  # the CLI finds or starts a broker
    assert config.simulation.enabled


def all_models() -> list[type]:
    """Config and every section (model or dataclass) reachable from it through its fields."""
    found: list[type] = []
    todo: list[object] = [Config]
    while todo:
        annotation = todo.pop()
        fields = yaml_lines.section_fields(annotation)
        if fields is not None:
            assert isinstance(annotation, type)
            if annotation not in found:
                found.append(annotation)
                todo += [field.annotation for field in fields.values()]
        else:
            todo += typing.get_args(annotation)
    return found


def test_every_key_is_described_and_documented_in_the_example() -> None:
    example = bundled_example().read_text(encoding="utf-8")
    models = all_models()
    assert len(models) >= 12  # every section was found
    assert SensorConfig in models
    for model in models:
        if issubclass(model, BaseModel):
            assert model.model_config.get("extra") == "forbid", model
            assert model.model_config.get("frozen") is True, model
        else:  # a pydantic dataclass (SensorConfig)
            assert model.__pydantic_config__.get("extra") == "forbid", model
            assert model.__dataclass_params__.frozen, model  # type: ignore[attr-defined]
        fields = yaml_lines.section_fields(model)
        assert fields is not None
        for name, field in fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert re.search(rf"\b{name}\b", example), f"{name} is not in the example"


def test_the_commented_examples_in_the_example_house_are_valid() -> None:
    commented = re.compile(r"^(\s*)# (\s*(?:- )?[a-z_]+:(?: .*)?)$", re.MULTILINE)
    example = bundled_example().read_text(encoding="utf-8")
    uncommented, count = commented.subn(r"\1\2", example)
    assert count >= 10
    config = parse_config(uncommented, "house.yaml", base_dir=Path("/etc/homeguard"))
    assert config.mqtt.tls is not None and config.mqtt.password is not None
    assert "zigbee2mqtt" in {sensor.family for sensor in config.sensors}


def test_default_config_path_prefers_a_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_config_path() == default_config_path(tmp_path) == bundled_example()
    local = tmp_path / "homeguard.yaml"
    local.write_text("{}\n", encoding="utf-8")
    assert default_config_path(tmp_path) == local
    assert default_config_path() == Path("homeguard.yaml")  # relative, as errors name it


def test_lockout_cap_bypass_policy_and_cover_name_reach_the_panel() -> None:
    defaults = parse_config(BLOCK).panel_settings()
    assert defaults.codes.max_lockout == 900 and not defaults.bypass_while_armed
    text = block(
        ("  modes:", "  lockout: {max_duration: 300}\n  bypass_while_armed: true\n  modes:"),
        ("    duress: true", "    duress: true\n    appears_as: alice"),
    )
    settings = parse_config(text).panel_settings()
    assert settings.codes.max_lockout == 300 and settings.bypass_while_armed
    duress = settings.users[1]
    assert duress.name == "coerced" and duress.shown_name == "alice"


def test_restart_grace_reaches_the_engine_and_is_never_negative() -> None:
    assert parse_config("sensors: []\n").panel_settings().restart_grace == 60.0
    config = parse_config("panel: {restart_grace: 15}\n")
    assert config.panel_settings().restart_grace == 15.0
    with pytest.raises(ConfigError, match=r"line 1: panel\.restart_grace"):
        parse_config("panel: {restart_grace: -1}\n")
