"""Sections ``sensors`` and ``actuators``: the devices the panel watches and switches."""

from __future__ import annotations

import re
import types
from typing import Self

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.dataclasses import dataclass

from homeguard.adapters.codecs import Family, RfSignal
from homeguard.adapters.device_topics import NO_RF_CODES
from homeguard.adapters.topics import SensorBinding
from homeguard.config.base import (
    ID_PATTERN,
    Misplaced,
    Seconds,
    Section,
    TopicName,
    exact_topic,
)
from homeguard.core.model import DEFAULT_ZONE, ArmMode, SensorSpec, SensorType, ZoneKind
from homeguard.core.signals import ActuatorKind

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


# A sensor is a slotted pydantic dataclass, not a Section (BaseModel) like the others:
# the same validation, at a third of the memory (no __dict__, no set of the fields given),
# which counts with 100,000 sensors kept for the life of the controller.
@dataclass(config=ConfigDict(extra="forbid", hide_input_in_errors=True), frozen=True, slots=True)
class SensorConfig:
    """A door, window, motion, tamper, panic, smoke or water sensor."""

    id: str = Field(
        pattern=ID_PATTERN,
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
    availability_topic: TopicName | None = Field(
        default=None,
        description="Exact topic of its online/offline messages; none: the family's default.",
    )
    device: TopicName | None = Field(
        default=None,
        description="Its name in its family's default topics (Zigbee2MQTT friendly name, "
        "Tasmota topic or RF bridge, Shelly id, ESPHome node); none: the sensor id.",
    )
    object_id: TopicName | None = Field(
        default=None,
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

    @field_validator("topic")
    @classmethod
    def _exact_topic_list(cls, topic: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        if isinstance(topic, tuple):
            if not topic:
                raise ValueError("must name at least one topic")
            return tuple(exact_topic(t) for t in topic)
        return None if topic is None else exact_topic(topic)

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
            raise Misplaced("a 24h zone is watched in every state: remove modes", "modes")
        if self.entry_delay is not None and self.zone_kind is not ZoneKind.ENTRY:
            raise Misplaced(
                f"only entry zones have an entry delay (this one is {self.zone_kind.value})",
                "entry_delay",
            )
        if (self.signed or self.encrypted) and self.family is not Family.HOMEGUARD:
            raise Misplaced("only homeguard-family sensors can sign", "signed")
        if self.encrypted and not self.signed:
            raise Misplaced("encrypted needs signed: true (replay protection)", "encrypted")
        if self.secret is not None and not self.signed:
            raise Misplaced("a secret is only used with signed: true", "secret")
        if self.secret is not None and not self.secret.get_secret_value():
            raise Misplaced("a secret must not be empty", "secret")
        for key, family in (
            ("rf_codes", Family.TASMOTA),
            ("component", Family.SHELLY),
            ("object_id", Family.ESPHOME),
        ):
            if getattr(self, key) is not None and self.family is not family:
                raise Misplaced(f"only {family.value}-family sensors have {key}", key)
        if self.device is not None and self.family is Family.HOMEGUARD:
            raise Misplaced("a homeguard-family sensor is named by its id", "device")
        if self.rf_codes is not None:
            active, inactive = _RF_WORDS[self.type]
            for name in self.rf_codes:
                if _RF_SIGNALS[name] in (RfSignal.ACTIVE, RfSignal.INACTIVE) and name not in (
                    active,
                    inactive,
                ):
                    raise Misplaced(
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
            rf_codes=types.MappingProxyType(codes) if codes else NO_RF_CODES,
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


class ActuatorConfig(Section):
    """A siren or a light the controller switches."""

    id: str = Field(pattern=ID_PATTERN, max_length=64, description="Unique id; its topic level.")
    type: ActuatorKind = Field(description="siren or light.")
    topic: TopicName | None = Field(
        default=None,
        description="Exact ON/OFF command topic; none: <base_topic>/control/alarm for a "
        "siren, <base_topic>/control/light for a light.",
    )
