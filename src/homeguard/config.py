"""The site's configuration: one YAML file, validated once at load.

:func:`load_config` reads the file, :func:`parse_config` the text; both return a frozen
:class:`Config` or raise :class:`~homeguard.errors.ConfigError` whose every line reads
``<file> line <n>: <key path>: <what is wrong>``. The YAML is composed into nodes first
so that each pydantic error location can be traced back to the line it came from; keys
that appear twice in one mapping, which YAML itself silently accepts, are refused.

A user's plain ``pin`` and dashboard ``password`` are hashed while the file is validated
(scrypt, see :mod:`homeguard.core.codes`) and dropped: they are in no model, repr, dump
or message.
Secrets (``password``) are :class:`pydantic.SecretStr` and print as ``**********``.

This is the only module that imports pydantic and PyYAML; the engine gets plain core
types from :meth:`Config.panel_settings`.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from homeguard.adapters.codecs import Family, RfSignal
from homeguard.adapters.topics import SensorBinding
from homeguard.core import codes
from homeguard.core.flood import FloodPolicy
from homeguard.core.model import (
    DEFAULT_ZONE,
    ArmMode,
    CodePolicy,
    ModeTiming,
    PanelSettings,
    SensorSpec,
    SensorType,
    User,
    ZoneKind,
)
from homeguard.core.signals import ActuatorKind
from homeguard.errors import ConfigError

__all__ = [
    "CONFIG_FILENAME",
    "ActuatorConfig",
    "Config",
    "HomeAssistantConfig",
    "LockoutConfig",
    "ModeTimingConfig",
    "MqttConfig",
    "PanelConfig",
    "SecurityConfig",
    "SensorConfig",
    "SigningConfig",
    "SimulationConfig",
    "StorageConfig",
    "TlsConfig",
    "UserConfig",
    "WebConfig",
    "bundled_example",
    "default_config_path",
    "load_config",
    "parse_config",
]

CONFIG_FILENAME = "homeguard.yaml"
_EXAMPLE = Path(__file__).parent / "examples" / "house.yaml"
_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
_MAX_TOPIC_BYTES = 65535
_MAX_ERRORS = 20  # more than this and the rest of the list is noise
_TIMING = ModeTiming()
_CODES = CodePolicy()

Seconds = Annotated[float, Field(allow_inf_nan=False)]
_HEX = re.compile(r"[0-9A-Fa-f]{1,16}")
# rf_codes names: a door's open/closed, a motion sensor's motion, others' on/off.
_RF_SIGNALS = {
    "open": RfSignal.ACTIVE,
    "closed": RfSignal.INACTIVE,
    "motion": RfSignal.ACTIVE,
    "no_motion": RfSignal.INACTIVE,
    "on": RfSignal.ACTIVE,
    "off": RfSignal.INACTIVE,
    "tamper": RfSignal.TAMPER,
}
_RF_WORDS = {
    SensorType.DOOR: ("open", "closed"),
    SensorType.WINDOW: ("open", "closed"),
    SensorType.MOTION: ("motion", "no_motion"),
    SensorType.TAMPER: ("on", "off"),
    SensorType.PANIC: ("on", "off"),
    SensorType.SMOKE: ("on", "off"),
    SensorType.WATER: ("on", "off"),
}


class _Misplaced(ValueError):
    """A check on a whole section that blames one key inside it (``where``, relative)."""

    def __init__(self, message: str, *where: str | int) -> None:
        super().__init__(message)
        self.where = where


class _Section(BaseModel):
    # hide_input_in_errors: a ValidationError raised to a Python caller never prints a
    # value, so neither a PIN nor a password can leak through one.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _exact_topic(topic: str | None) -> str | None:
    if topic is None:
        return None
    if not topic or "+" in topic or "#" in topic or "\0" in topic:
        raise ValueError("must be a non-empty MQTT topic without wildcards ('+', '#')")
    if len(topic.encode()) > _MAX_TOPIC_BYTES:
        raise ValueError("is longer than an MQTT topic may be")
    return topic


# ------------------------------------------------------------------------------ mqtt


class TlsConfig(_Section):
    """TLS towards the broker; relative paths are relative to the config file."""

    ca_file: Path | None = Field(
        default=None,
        description="CA certificate(s) to trust for the broker; none: the system's CAs.",
    )
    cert_file: Path | None = Field(
        default=None, description="Client certificate, for brokers that require one."
    )
    key_file: Path | None = Field(default=None, description="Private key of cert_file.")

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _next_to_config(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        base = info.context.get("base_dir") if isinstance(info.context, dict) else None
        if path is None or path.is_absolute() or base is None:
            return path
        return Path(base) / path

    @model_validator(mode="after")
    def _cert_with_key(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "key_file" if self.key_file is None else "cert_file"
            raise _Misplaced("cert_file and key_file go together", missing)
        return self


class MqttConfig(_Section):
    """How the controller reaches the broker."""

    host: str | None = Field(
        default=None,
        min_length=1,
        description="Broker host name or address; none: use a broker on 127.0.0.1 at `port` "
        "if one answers, otherwise start a local one.",
    )
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port.")
    base_topic: str = Field(
        default="home",
        description="First topic level(s) of every homeguard topic; one per site.",
    )
    client_id: str = Field(
        default="homeguard-controller",
        min_length=1,
        max_length=65535,
        description="Fixed MQTT client id, so that the broker keeps the session and "
        "queues messages while the controller is down (a broker that binds client ids "
        "to logins uses the login instead).",
    )
    username: str | None = Field(default=None, description="Broker user name, if any.")
    password: SecretStr | None = Field(default=None, description="Broker password; never printed.")
    keepalive: int = Field(
        default=30,
        ge=1,
        le=65535,
        description="Seconds between MQTT pings; a dead connection shows after 1.5 times it.",
    )
    tls: TlsConfig | None = Field(
        default=None, description="TLS settings; none: plain TCP (fine on loopback only)."
    )

    @field_validator("base_topic")
    @classmethod
    def _plain_base(cls, topic: str) -> str:
        _exact_topic(topic)
        if topic.startswith("/") or topic.endswith("/") or "//" in topic:
            raise ValueError("must not start or end with '/' nor contain an empty level")
        if topic.startswith("$"):
            raise ValueError("must not start with '$' (reserved for the broker)")
        return topic


# --------------------------------------------------------------------------- storage


class StorageConfig(_Section):
    """Where events are stored."""

    path: str = Field(
        default="homeguard.db",
        min_length=1,
        description="SQLite file; a relative path is relative to the data directory.",
    )
    retention_days: int | None = Field(
        default=365, ge=1, description="Days of events to keep; none: keep everything."
    )
    synchronous: Literal["normal", "full"] = Field(
        default="full",
        description="SQLite synchronous mode: full survives a power cut, normal only a "
        "crash of the process.",
    )


# ----------------------------------------------------------------------------- panel


class ModeTimingConfig(_Section):
    """Seconds of delay and siren for one armed mode."""

    exit_delay: Seconds = Field(
        default=_TIMING.exit_delay, ge=0, description="Seconds to leave after arming."
    )
    entry_delay: Seconds = Field(
        default=_TIMING.entry_delay,
        ge=0,
        description="Seconds to disarm after an entry zone opens.",
    )
    siren_time: Seconds = Field(
        default=_TIMING.siren_time, gt=0, description="Seconds the siren sounds."
    )

    def timing(self) -> ModeTiming:
        return ModeTiming(self.exit_delay, self.entry_delay, self.siren_time)


class LockoutConfig(_Section):
    """Wrong-code lockout."""

    max_failures: int = Field(
        default=_CODES.max_failures, ge=1, description="Wrong codes that lock code entry."
    )
    window: Seconds = Field(
        default=_CODES.window, gt=0, description="Seconds within which they are counted."
    )
    duration: Seconds = Field(
        default=_CODES.lockout,
        gt=0,
        description="Seconds of the first lockout; each one that follows doubles, up to "
        "max_duration, until a code that may disarm is used.",
    )
    max_duration: Seconds = Field(
        default=_CODES.max_lockout,
        gt=0,
        description="Seconds a lockout lasts at most, however many came before: a "
        "stranger at the keypad cannot lock the owner out for longer.",
    )

    @model_validator(mode="after")
    def _cap_covers_first(self) -> Self:
        if self.max_duration < self.duration:
            raise _Misplaced("must be at least duration", "max_duration")
        return self


class PanelConfig(_Section):
    """How the alarm panel behaves."""

    disarm_after_trigger: bool = Field(
        default=False,
        description="After the siren time, disarm instead of returning to the armed mode.",
    )
    code_arm_required: bool = Field(
        default=True, description="Arming needs a valid code (disarming always does)."
    )
    swinger_limit: int = Field(
        default=2,
        ge=1,
        description="Alarms one zone may start in one armed period before it is bypassed.",
    )
    modes: Mapping[ArmMode, ModeTimingConfig] = Field(
        default_factory=dict,
        description="Timings per armed mode; a missing mode or key takes the defaults.",
    )
    lockout: LockoutConfig = Field(default_factory=LockoutConfig, description="Wrong-code lockout.")
    bypass_while_armed: bool = Field(
        default=False,
        description="Let a user with disarm rights bypass a zone while the panel is not "
        "disarmed; off: bypassing is refused until disarmed (lifting a bypass never is).",
    )
    restart_grace: Seconds = Field(
        default=60.0,
        ge=0,
        description="Seconds after the controller starts during which a sensor's offline "
        "(often the retained one from before the start) is not news: a sensor that speaks "
        "again within it raises no trouble and no trip; one that does not is in trouble "
        "when it ends.",
    )
    mqtt_commands: Literal["code", "trusted"] = Field(
        default="code",
        description="Commands on <base>/alarm/set: code (need a code like every other way "
        "in) or trusted (accepted without a code, because the broker's ACL lets only "
        "authorised users publish there; a code that is given is still checked).",
    )
    report_grace: Seconds | None = Field(
        default=120.0,
        gt=0,
        description="Seconds after the controller starts by which every sensor that is not "
        "event_only must have been heard, or it is in trouble (no_report) and blocks "
        "arming without force; null: no such check.",
    )


# ----------------------------------------------------------------------------- users


def _valid_pin(pin: object) -> bool:
    return isinstance(pin, str) and 4 <= len(pin) <= 12 and pin.isascii() and pin.isdigit()


class UserConfig(_Section):
    """A person with a code. Give ``pin`` (hashed at load, then dropped) or ``pin_hash``."""

    name: str = Field(min_length=1, description="Shown in events and logs.")
    pin_hash: str = Field(
        description="The PIN's scrypt hash (scrypt$n$r$p$salt$digest, from "
        "homeguard.core.codes.hash_pin). A plain `pin` (4 to 12 digits, in quotes) may be "
        "given instead: it is hashed at load and dropped."
    )
    can_arm: bool = Field(default=True, description="May arm the panel.")
    can_disarm: bool = Field(default=True, description="May disarm the panel.")
    duress: bool = Field(
        default=False,
        description="A duress code: disarms as usual and raises a silent duress alert, "
        "seen only by the notifications and `homeguard events --duress`.",
    )
    appears_as: str | None = Field(
        default=None,
        min_length=1,
        description="For a duress user: the name its actions show under everywhere an "
        "intruder could look (events, dashboard); none: its own name.",
    )

    @model_validator(mode="after")
    def _appears_as_for_duress(self) -> Self:
        if self.appears_as is not None and not self.duress:
            raise _Misplaced("appears_as is for duress users only", "appears_as")
        return self

    password_hash: str | None = Field(
        default=None,
        description="The web dashboard password's scrypt hash. A plain `password` may be "
        "given instead: it is hashed at load and dropped; none: no dashboard login.",
    )

    @model_validator(mode="before")
    @classmethod
    def _hash_plain_password(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "password" not in data:
            return data
        if "password_hash" in data:
            raise _Misplaced("give either password or password_hash, not both")
        fields = dict(data)
        password = fields.pop("password")
        if not isinstance(password, str) or len(password) < 4:
            raise _Misplaced("a password is text of at least 4 characters", "password")
        fields["password_hash"] = codes.hash_pin(password, os.urandom(16))
        return fields

    @field_validator("password_hash")
    @classmethod
    def _known_password_scheme(cls, password_hash: str | None) -> str | None:
        if password_hash is not None and not codes.is_pin_hash(password_hash):
            raise ValueError("is not a homeguard password hash (scrypt$n$r$p$salt$digest)")
        return password_hash

    @model_validator(mode="before")
    @classmethod
    def _hash_plain_pin(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "pin" not in data:
            return data
        if "pin_hash" in data:
            raise _Misplaced("give either pin or pin_hash, not both")
        fields = dict(data)
        pin = fields.pop("pin")
        if not isinstance(pin, str):
            raise _Misplaced(
                'write the PIN in quotes (pin: "0123"): unquoted, YAML reads a number '
                "and drops its leading zeros",
                "pin",
            )
        if not _valid_pin(pin):
            raise _Misplaced("a PIN is 4 to 12 digits", "pin")
        fields["pin_hash"] = codes.hash_pin(pin, os.urandom(16))
        return fields

    @field_validator("pin_hash")
    @classmethod
    def _known_scheme(cls, pin_hash: str) -> str:
        if not codes.is_pin_hash(pin_hash):
            raise ValueError("is not a homeguard PIN hash (scrypt$n$r$p$salt$digest)")
        return pin_hash

    def user(self) -> User:
        return User(
            self.name, self.pin_hash, self.can_arm, self.can_disarm, self.duress, self.appears_as
        )


# --------------------------------------------------------------------------- devices


class SensorConfig(_Section):
    """A door, window, motion, tamper, panic, smoke or water sensor."""

    id: str = Field(
        pattern=_ID_PATTERN,
        max_length=64,
        description="Unique id; also the last level of its topic.",
    )
    type: SensorType = Field(description="What the sensor detects.")
    zone: ZoneKind | None = Field(
        default=None,
        description="entry (delayed), perimeter (instant), interior (instant, follows a "
        "running entry delay) or 24h (always); none: the type's usual zone.",
    )
    name: str = Field(default="", description="Human-readable name.")
    modes: tuple[ArmMode, ...] | None = Field(
        default=None,
        description="Armed modes that watch the sensor; none: the zone's usual modes.",
    )
    entry_delay: Seconds | None = Field(
        default=None,
        ge=0,
        description="Entry delay of this entry-zone sensor; none: the mode's.",
    )
    supervision: Seconds | None = Field(
        default=None,
        gt=0,
        description="Seconds of silence after which the sensor is in trouble; none: off.",
    )
    trigger_unavailable: bool = Field(
        default=False,
        description="Going offline while watched also trips the zone, after the debounce.",
    )
    unavailable_debounce: Seconds = Field(
        default=30.0, ge=0, description="Seconds offline before trigger_unavailable trips."
    )
    family: Family = Field(
        default=Family.HOMEGUARD, description="Which kind of device, i.e. how its payloads read."
    )
    topic: str | tuple[str, ...] | None = Field(
        default=None,
        description="Exact topic it publishes on, or a list of them that all feed this "
        "sensor; none: the family's default ones.",
    )
    availability_topic: str | None = Field(
        default=None,
        description="Exact topic of its online/offline messages; none: the family's default.",
    )
    device: str | None = Field(
        default=None,
        min_length=1,
        description="Its name in its family's default topics (Zigbee2MQTT friendly name, "
        "Tasmota topic or RF bridge, Shelly id, ESPHome node); none: the sensor id.",
    )
    object_id: str | None = Field(
        default=None,
        min_length=1,
        description="ESPHome: the binary_sensor's object id in <node>/binary_sensor/"
        "<object_id>/state; none: the sensor id.",
    )
    component: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]+:[0-9]+$",
        description="Shelly Gen2/Gen3: the component that carries the state (input:0, "
        "bthomesensor:200); its topics are then <device>/events/rpc and "
        "<device>/status/<component>.",
    )
    rf_codes: dict[str, str] | None = Field(
        default=None,
        description="Tasmota RF bridge: the 433 MHz code (hex, as RfReceived.Data) of each "
        "signal: open/closed (door, window), motion/no_motion, on/off (others), tamper.",
    )
    event_only: bool = Field(
        default=False,
        description="Speaks only when something happens (a PIR sending motion only): "
        "exempt from panel.report_grace.",
    )
    signed: bool = Field(
        default=False,
        description="Accept only messages signed with the device's secret, with a rising "
        "seq and a ts within signing.window (docs/security.md); homeguard family only.",
    )
    encrypted: bool = Field(
        default=False,
        description="Its messages are Fernet tokens of the signed payload (for brokers that "
        "are not trusted); needs signed.",
    )
    secret: SecretStr | None = Field(
        default=None,
        description="The device's signing secret; none: the provisioned one (key secret "
        "of devices/<id>.json in security.provisioned, `homeguard provision`). Never printed.",
    )

    @field_validator("availability_topic")
    @classmethod
    def _exact_topics(cls, topic: str | None) -> str | None:
        return _exact_topic(topic)

    @field_validator("topic")
    @classmethod
    def _exact_topic_list(cls, topic: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        if isinstance(topic, tuple):
            if not topic:
                raise ValueError("must name at least one topic")
            return tuple(t for t in topic if _exact_topic(t))
        return _exact_topic(topic)

    @field_validator("rf_codes")
    @classmethod
    def _rf_codes(cls, codes: dict[str, str] | None) -> dict[str, str] | None:
        if codes is None:
            return None
        if not codes:
            raise ValueError("must map at least one signal to a code")
        for name, code in codes.items():
            if name not in _RF_SIGNALS:
                raise ValueError(f"unknown signal {name!r} (known: {', '.join(_RF_SIGNALS)})")
            if not isinstance(code, str) or not _HEX.fullmatch(code.removeprefix("0x")):
                raise ValueError(f'{name}: {code!r} is not a hex code such as "80650A"')
        if len({c.upper().removeprefix("0X") for c in codes.values()}) != len(codes):
            raise ValueError("two signals have the same code")
        return codes

    @property
    def zone_kind(self) -> ZoneKind:
        return self.zone if self.zone is not None else DEFAULT_ZONE[self.type]

    @model_validator(mode="after")
    def _settings_that_apply(self) -> Self:
        if self.modes is not None and self.zone_kind is ZoneKind.ALWAYS:
            raise _Misplaced("a 24h zone is watched in every state: remove modes", "modes")
        if self.entry_delay is not None and self.zone_kind is not ZoneKind.ENTRY:
            raise _Misplaced(
                f"only entry zones have an entry delay (this one is {self.zone_kind.value})",
                "entry_delay",
            )
        if (self.signed or self.encrypted) and self.family is not Family.HOMEGUARD:
            raise _Misplaced("only homeguard-family sensors can sign", "signed")
        if self.encrypted and not self.signed:
            raise _Misplaced("encrypted needs signed: true (replay protection)", "encrypted")
        if self.secret is not None and not self.signed:
            raise _Misplaced("a secret is only used with signed: true", "secret")
        if self.secret is not None and not self.secret.get_secret_value():
            raise _Misplaced("a secret must not be empty", "secret")
        for key, family in (
            ("rf_codes", Family.TASMOTA),
            ("component", Family.SHELLY),
            ("object_id", Family.ESPHOME),
        ):
            if getattr(self, key) is not None and self.family is not family:
                raise _Misplaced(f"only {family.value}-family sensors have {key}", key)
        if self.device is not None and self.family is Family.HOMEGUARD:
            raise _Misplaced("a homeguard-family sensor is named by its id", "device")
        if self.rf_codes is not None:
            active, inactive = _RF_WORDS[self.type]
            for name in self.rf_codes:
                if _RF_SIGNALS[name] in (RfSignal.ACTIVE, RfSignal.INACTIVE) and name not in (
                    active,
                    inactive,
                ):
                    raise _Misplaced(
                        f"a {self.type.value} sensor's codes are {active}, {inactive} "
                        f"and tamper (not {name})",
                        "rf_codes",
                    )
        return self

    def binding(self) -> SensorBinding:
        """Where this sensor is heard, for :class:`~homeguard.adapters.topics.TopicMap`."""
        codes = {
            code.upper().removeprefix("0X"): _RF_SIGNALS[name]
            for name, code in (self.rf_codes or {}).items()
        }
        return SensorBinding(
            self.id,
            self.type,
            self.family,
            self.topic,
            self.availability_topic,
            device=self.device,
            object_id=self.object_id,
            component=self.component,
            rf_codes=types.MappingProxyType(codes),
        )

    def spec(self) -> SensorSpec:
        return SensorSpec(
            id=self.id,
            type=self.type,
            zone=self.zone,
            modes=None if self.modes is None else frozenset(self.modes),
            entry_delay=self.entry_delay,
            supervision=self.supervision,
            trigger_unavailable=self.trigger_unavailable,
            unavailable_debounce=self.unavailable_debounce,
            name=self.name,
            event_only=self.event_only,
        )


class ActuatorConfig(_Section):
    """A siren or a light the controller switches."""

    id: str = Field(pattern=_ID_PATTERN, max_length=64, description="Unique id; its topic level.")
    type: ActuatorKind = Field(description="siren or light.")
    topic: str | None = Field(
        default=None,
        description="Exact ON/OFF command topic; none: <base_topic>/control/alarm for a "
        "siren, <base_topic>/control/light for a light.",
    )

    @field_validator("topic")
    @classmethod
    def _exact_topics(cls, topic: str | None) -> str | None:
        return _exact_topic(topic)


class SigningConfig(_Section):
    """Signed and encrypted sensor messages (docs/security.md)."""

    window: Seconds = Field(
        default=30.0,
        gt=0,
        description="Seconds a signed message's ts may differ from the controller's clock.",
    )


class RateLimitConfig(_Section):
    """How many messages each device may send before its surplus is only counted."""

    messages_per_second: float = Field(
        default=5.0,
        gt=0,
        allow_inf_nan=False,
        description="Messages a second each device may send, sustained; the surplus still "
        "reaches the panel but is not stored one by one, and a device within it is never "
        "held up by one above it.",
    )
    burst: int = Field(default=200, ge=1, description="Messages a device may send at once, on top.")
    report_every: Seconds = Field(
        default=60.0,
        gt=0,
        description="Seconds summarised by one flood event per device, and by one "
        "security event per sensor for its refused messages after the first.",
    )

    def policy(self) -> FloodPolicy:
        return FloodPolicy(self.messages_per_second, self.burst, self.report_every)


# ------------------------------------------------------------------ simulation, web


class SimulationConfig(_Section):
    """The simulated house: how often its sensors talk and change."""

    enabled: bool = Field(default=True, description="Run the simulated sensors.")
    heartbeat: Seconds = Field(
        default=20.0, gt=0, description="Seconds between heartbeats of each sensor."
    )
    door_interval: Seconds = Field(
        default=3.0, gt=0, description="Seconds between chances of a door or window change."
    )
    door_change_probability: float = Field(
        default=0.3, ge=0, le=1, description="Chance of a change at each door interval."
    )
    motion_interval: Seconds = Field(
        default=2.0, gt=0, description="Seconds between chances of motion."
    )
    motion_probability: float = Field(
        default=0.2, ge=0, le=1, description="Chance of motion at each motion interval."
    )
    motion_duration: tuple[Seconds, Seconds] = Field(
        default=(5.0, 15.0),
        description="Shortest and longest seconds a motion lasts, as [min, max].",
    )

    @field_validator("motion_duration")
    @classmethod
    def _ordered(cls, span: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= span[0] <= span[1]:
            raise ValueError("must be [min, max] with 0 <= min <= max")
        return span


class WebConfig(_Section):
    """The web dashboard."""

    host: str = Field(
        default="127.0.0.1", min_length=1, description="Address the dashboard listens on."
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Its TCP port.")
    enabled: bool = Field(
        default=True, description="Serve the dashboard and HTTP API from the controller."
    )
    loopback_without_login: bool = Field(
        default=False,
        description="Let clients on this machine (127.0.0.1, ::1) in without a login.",
    )
    session_hours: Seconds = Field(
        default=12.0, gt=0, description="Hours a login lasts without being used."
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="Reverse proxies (IP addresses or networks such as 10.0.0.0/24) whose "
        "X-Forwarded-For and X-Forwarded-Proto headers are believed; from anyone else "
        "they are ignored. Empty (the default): no proxy.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an IP address or network (a name cannot be trusted)"
                ) from None
        return proxies


class SecurityConfig(_Section):
    """Per-device broker accounts, ACLs and certificates (``homeguard provision``)."""

    provisioned: Path | None = Field(
        default=None,
        description="Folder written by `homeguard provision`: each client connects with "
        "its own credentials from it; none: <data-dir>/security when it exists. A "
        "relative path is relative to the config file.",
    )
    hosts: tuple[str, ...] = Field(
        default=(),
        description="More host names and IP addresses the broker's TLS certificate is "
        "valid for (localhost, 127.0.0.1 and mqtt.host always are).",
    )
    clients: tuple[Annotated[str, Field(pattern=_ID_PATTERN, max_length=64)], ...] = Field(
        default=("cli",),
        description="Accounts for the programs of the panel's users (the CLI, Home "
        "Assistant...): they may only command the panel (alarm/set) and read its state "
        "and events. The CLI uses `cli`.",
    )

    @field_validator("provisioned")
    @classmethod
    def _next_to_config(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        base = info.context.get("base_dir") if isinstance(info.context, dict) else None
        if path is None or path.is_absolute() or base is None:
            return path
        return Path(base) / path


class HomeAssistantConfig(_Section):
    """Home Assistant MQTT discovery (docs/home-assistant.md)."""

    discovery: bool = Field(
        default=True,
        description="Publish the panel, sensors, siren and light as Home Assistant "
        "entities (retained discovery configs under `prefix`).",
    )
    prefix: str = Field(
        default="homeassistant",
        description="Home Assistant's discovery prefix (its MQTT integration's setting).",
    )
    node_id: str | None = Field(
        default=None,
        pattern=_ID_PATTERN,
        max_length=64,
        description="Second level of the discovery topics and the panel device's "
        "identifier; none: homeguard_<base_topic> (other characters than letters, digits, "
        "'-' and '_' become '_').",
    )
    control_actuators: bool = Field(
        default=False,
        description="Offer the siren and light as switches (siren and light entities) "
        "and let the security.clients logins switch them; false: their state only, "
        "since whoever can switch the siren can silence an alarm (docs/security.md).",
    )

    @field_validator("prefix")
    @classmethod
    def _plain_prefix(cls, topic: str) -> str:
        _exact_topic(topic)
        if topic.startswith(("/", "$")) or topic.endswith("/") or "//" in topic:
            raise ValueError("must not start with '/' or '$', end with '/' nor have an empty level")
        return topic

    def node(self, base_topic: str) -> str:
        """The node id in use: the configured one, or one derived from the base topic."""
        return self.node_id or "homeguard_" + re.sub(r"[^A-Za-z0-9_-]", "_", base_topic)


# ------------------------------------------------------------------------------ root


def _duplicates(values: list[str]) -> Iterator[tuple[int, int]]:
    """(index, index of its first occurrence) for every repeated value."""
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first:
            yield index, first[value]
        first.setdefault(value, index)


class Config(_Section):
    """A whole site."""

    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="The MQTT broker.")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="The event store.")
    panel: PanelConfig = Field(default_factory=PanelConfig, description="The alarm panel.")
    users: tuple[UserConfig, ...] = Field(
        default=(), description="People with codes; none: no code is asked."
    )
    sensors: tuple[SensorConfig, ...] = Field(default=(), description="The sensors.")
    actuators: tuple[ActuatorConfig, ...] = Field(default=(), description="Sirens and lights.")
    simulation: SimulationConfig = Field(
        default_factory=SimulationConfig, description="The simulated house."
    )
    web: WebConfig = Field(default_factory=WebConfig, description="The web dashboard.")
    signing: SigningConfig = Field(
        default_factory=SigningConfig, description="Signed and encrypted sensor messages."
    )
    rate_limit: RateLimitConfig = Field(
        default_factory=RateLimitConfig, description="Messages per device, and floods."
    )
    security: SecurityConfig = Field(
        default_factory=SecurityConfig, description="Broker accounts, ACLs and TLS."
    )
    home_assistant: HomeAssistantConfig = Field(
        default_factory=HomeAssistantConfig, description="Home Assistant MQTT discovery."
    )

    @model_validator(mode="before")
    @classmethod
    def _distinct_pins(cls, data: Any) -> Any:
        """Runs before the users are validated, so while their plain PINs still exist."""
        users = data.get("users") if isinstance(data, Mapping) else None
        if not isinstance(users, list | tuple):
            return data
        entries = [u if isinstance(u, Mapping) else {} for u in users]
        pins = [(i, u["pin"]) for i, u in enumerate(entries) if _valid_pin(u.get("pin"))]
        hashes = [
            (i, h)
            for i, u in enumerate(entries)
            if isinstance(h := u.get("pin_hash"), str) and codes.is_pin_hash(h)
        ]
        for key, given in (("pin", pins), ("pin_hash", hashes)):
            for index, first in _duplicates([value for _, value in given]):
                raise _Misplaced(
                    f"the same PIN as users[{given[first][0]}]: every user, duress "
                    "included, needs a PIN of their own",
                    "users",
                    given[index][0],
                    key,
                )
        # Mixed forms: a plain PIN can only be compared with a hash by hashing it.
        for index, pin in pins:
            for other, pin_hash in hashes:
                if codes.verify_pin(pin_hash, pin):
                    raise _Misplaced(
                        f"the same PIN as users[{other}] (pin_hash): every user needs "
                        "a PIN of their own",
                        "users",
                        index,
                        "pin",
                    )
        return data

    @field_validator("users")
    @classmethod
    def _unique_names(cls, users: tuple[UserConfig, ...]) -> tuple[UserConfig, ...]:
        for index, first in _duplicates([u.name for u in users]):
            raise _Misplaced(f"duplicate user name (also users[{first}])", index, "name")
        return users

    @field_validator("sensors")
    @classmethod
    def _unique_sensors(cls, sensors: tuple[SensorConfig, ...]) -> tuple[SensorConfig, ...]:
        for index, first in _duplicates([s.id for s in sensors]):
            raise _Misplaced(f"duplicate sensor id (also sensors[{first}])", index, "id")
        return sensors

    @field_validator("actuators")
    @classmethod
    def _unique_actuators(cls, actuators: tuple[ActuatorConfig, ...]) -> tuple[ActuatorConfig, ...]:
        for index, first in _duplicates([a.id for a in actuators]):
            raise _Misplaced(f"duplicate actuator id (also actuators[{first}])", index, "id")
        return actuators

    def panel_settings(self) -> PanelSettings:
        """The engine's view of this site: core types only, PINs hashed."""
        panel = self.panel
        modes = {mode: panel.modes.get(mode, ModeTimingConfig()).timing() for mode in ArmMode}
        lockout = panel.lockout
        return PanelSettings(
            sensors=tuple(sensor.spec() for sensor in self.sensors),
            users=tuple(user.user() for user in self.users),
            modes=types.MappingProxyType(modes),
            disarm_after_trigger=panel.disarm_after_trigger,
            code_arm_required=panel.code_arm_required,
            bypass_while_armed=panel.bypass_while_armed,
            swinger_limit=panel.swinger_limit,
            codes=CodePolicy(
                lockout.max_failures, lockout.window, lockout.duration, lockout.max_duration
            ),
            report_grace=panel.report_grace,
            restart_grace=panel.restart_grace,
        )


# ----------------------------------------------------------------------- loading


def bundled_example() -> Path:
    """The example house shipped with the package."""
    return _EXAMPLE


def default_config_path(directory: Path | None = None) -> Path:
    """``homeguard.yaml`` in ``directory`` (default: the working directory) if it
    exists, otherwise the bundled example house."""
    candidate = (directory if directory is not None else Path.cwd()) / CONFIG_FILENAME
    return candidate if candidate.is_file() else bundled_example()


def load_config(path: Path | str) -> Config:
    """Read and validate a configuration file; every user mistake is a ConfigError.

    Relative TLS file paths are taken relative to the file's directory.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{source}: cannot read the configuration: {reason}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{source} line {line}: the file is not UTF-8 text") from None
    return parse_config(text, source, base_dir=Path(path).parent)


def parse_config(text: str, source: str = "<string>", *, base_dir: Path | None = None) -> Config:
    """Validate configuration text; ``source`` names it in error messages."""
    try:
        root, data = _compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: the YAML is nested too deeply") from None
    if root is None or data is None:
        raise ConfigError(f"{source} line 1: the file is empty; it needs at least a section")
    if not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1
        raise ConfigError(
            f"{source} line {line}: the file must be a mapping of sections "
            "(mqtt:, panel:, users:, sensors:, ...)"
        )
    problems = _repeated_keys(root)
    if not problems:
        context = {"base_dir": base_dir} if base_dir is not None else {}
        try:
            return Config.model_validate(data, context=context)
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
        problems = [_locate(root, error) for error in errors]
    # Raised outside any except block: no chained exception can carry an input value.
    problems.sort(key=lambda problem: problem[0])
    lines = [f"{source} line {line}: {message}" for line, message in problems[:_MAX_ERRORS]]
    if len(problems) > _MAX_ERRORS:
        lines.append(f"{source}: ... and {len(problems) - _MAX_ERRORS} more errors")
    raise ConfigError("\n".join(lines))


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for lines) and the plain data (for pydantic), from one parse."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def _yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    # Only the problem's description: PyYAML's own message quotes the offending
    # line, which could be a PIN or a password.
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = exc.problem or "invalid YAML"
        context = f" ({exc.context}" if exc.context else ""
        start = exc.context_mark
        if context and start is not None and start.line != mark.line:
            context += f" started at line {start.line + 1}"
        context += ")" if context else ""
        return (
            f"{source} line {mark.line + 1}: YAML error at column "
            f"{mark.column + 1}: {what}{context}"
        )
    if isinstance(exc, yaml.reader.ReaderError):
        return f"{source}: the file contains a character YAML does not allow: {exc.reason}"
    return f"{source}: YAML error: {type(exc).__name__}"


def _repeated_keys(root: yaml.Node) -> list[tuple[int, str]]:
    """Keys given twice in one mapping (YAML would silently keep the last)."""
    problems: list[tuple[int, str]] = []
    seen_nodes: set[int] = set()  # aliases share nodes: visit each once

    def visit(node: yaml.Node, path: str) -> None:
        if id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[object, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name is not None and name != "<<":
                    line = key.start_mark.line + 1
                    if name in first:
                        problems.append(
                            (
                                line,
                                f"{_join(path, name)}: duplicate key (first at line {first[name]})",
                            )
                        )
                    first.setdefault(name, line)
                visit(value, _join(path, name if name is not None else "?"))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                visit(item, f"{path}[{index}]")

    visit(root, "")
    return problems


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _locate(root: yaml.Node, error: Mapping[str, Any]) -> tuple[int, str]:
    """The line and the message of one pydantic error."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    message: str = error["msg"]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _Misplaced):
        loc, message = loc + cause.where, str(cause)
    elif error["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    kind = error["type"]
    node, found, path = root, True, ""
    for position, part in enumerate(loc):
        if part == "[key]":
            continue
        is_index = isinstance(part, int) and not isinstance(node, yaml.MappingNode)
        path = f"{path}[{part}]" if is_index else _join(path, part)
        if found:
            # An unknown or invalid key is reported on the key's own line.
            rest = loc[position + 1 :]
            on_key = rest == ("[key]",) or (kind == "extra_forbidden" and not rest)
            child = _child(node, part, key=on_key)
            found = child is not None
            node = child if child is not None else node
    if kind == "extra_forbidden":
        message = _unknown_key(loc)
    elif kind == "missing":
        message = "missing (required)"
    elif kind == "model_type":
        message = "Input should be a mapping of keys to values"
    elif kind == "string_type" and isinstance(node, yaml.ScalarNode) and not node.style:
        message += " (put it in quotes: YAML read it as a number, a boolean or null)"
    return node.start_mark.line + 1, f"{path}: {message}" if path else message


def _child(node: yaml.Node, part: str | int, *, key: bool) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                return key_node if key else value_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    known = _known_keys(loc[:-1])
    hint = ""
    if known:
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return f"unknown key{hint}"


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts, by following the field annotations."""
    current: Any = Config
    for part in loc:
        current = _strip_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
            continue
        args = typing.get_args(current)
        if not args:
            return []
        current = args[-1] if isinstance(part, str) else args[0]  # mapping value, item
    current = _strip_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _strip_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
