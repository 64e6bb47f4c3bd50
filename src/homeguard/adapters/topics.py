"""Topic names for a site (:class:`SiteTopics`) and routing: which configured thing an
incoming MQTT topic is about (:class:`TopicMap`).

:meth:`TopicMap.build` turns the site's base topic, sensors and actuators into one dict
from exact topic to :data:`Route`, so that :meth:`TopicMap.route` (the controller's
per-message path) costs a dict lookup; only ``<base>/devices/<id>/announce`` and
``.../availability``, open to any device id, are parsed from the topic instead.

Where a sensor is heard (``<base>`` is the base topic, ``home`` by default):

* family ``homeguard`` without a topic: ``<base>/security/<type>/<id>``, and the
  contract's short form ``<base>/security/<type>``, which reaches the sensor of that
  type whose id is the type (``door``) or, when no id matches, the first native sensor
  of that type in the config (so the tutorial's ``home/security/door`` always reaches
  a door).
  An explicit topic on any sensor takes precedence over a short form.
* other families: their ``topic`` (one or a list), by default the family's usual ones,
  where ``<dev>`` is the sensor's ``device`` (its name in its family; default: its id):
  ``zigbee2mqtt/<dev>``; tasmota ``stat/<dev>/POWER``, or with ``rf_codes``
  ``tele/<dev>/RESULT`` (the RF bridge's); shelly Gen1 door/window
  ``shellies/<dev>/sensor/state``, ``.../sensor/battery``, ``.../sensor/tilt`` and
  ``.../sensor/vibration`` (motion: ``shellies/<dev>/status``; water:
  ``.../sensor/flood``; smoke: ``.../sensor/smoke``; both also ``.../sensor/battery``),
  shelly Gen2+ (a ``component`` is set) ``<dev>/events/rpc``,
  ``<dev>/status/<component>`` and ``<dev>/status/devicepower:0``; esphome
  ``<dev>/binary_sensor/<object_id>/state`` (``object_id`` default: the sensor id);
  Home Assistant statestream ``homeassistant/binary_sensor/<dev>/state``.

Availability: ``<base>/devices/<id>/availability`` for any id; for any sensor its
``availability_topic`` when configured, else the family's usual one:
``zigbee2mqtt/<dev>/availability``, tasmota ``tele/<dev>/LWT`` (``Online``/``Offline``),
shelly Gen1 ``shellies/<dev>/online`` and Gen2+ ``<dev>/online`` (``true``/``false``),
esphome ``<dev>/status`` (``online``/``offline``). Home Assistant says ``unavailable`` on
the state topic instead.
``<base>/security/status`` is the controller's own message: :class:`IgnoredRoute`.
Two bindings on one topic are a :class:`~homeguard.errors.ConfigError`, except where one
device speaks for several sensors: sensors of one RF bridge or of one Shelly Gen2+ device
share its topics, and sensors of one device share its availability topic
(:class:`SharedRoute`: each sensor's codec reads the message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from homeguard.adapters.codecs import Family, Hints, RfSignal
from homeguard.core.model import SensorType
from homeguard.core.signals import ActuatorKind
from homeguard.errors import ConfigError, PayloadError

__all__ = [
    "QOS",
    "ActuatorStateRoute",
    "AnnounceRoute",
    "AvailabilityRoute",
    "CommandRoute",
    "IgnoredRoute",
    "Route",
    "SensorBinding",
    "SensorRoute",
    "SharedRoute",
    "SiteTopics",
    "TopicMap",
    "availability_topics",
    "default_topic",
    "sensor_topics",
]

QOS = 1
# The contract names the siren's command topic ``<base>/control/alarm``.
_CONTROL_LEVEL = {ActuatorKind.SIREN: "alarm", ActuatorKind.LIGHT: "light"}


@dataclass(frozen=True, slots=True)
class SiteTopics:
    """The topic contract's names for one site (the publishing side of this module)."""

    base: str = "home"

    @property
    def alarm_set(self) -> str:
        return f"{self.base}/alarm/set"

    @property
    def alarm_state(self) -> str:
        return f"{self.base}/alarm/state"

    @property
    def alarm_event(self) -> str:
        return f"{self.base}/alarm/event"

    @property
    def controller_availability(self) -> str:
        return f"{self.base}/alarm/availability"

    @property
    def status(self) -> str:
        return f"{self.base}/security/status"

    def sensor(self, sensor_type: str, device_id: str) -> str:
        return f"{self.base}/security/{sensor_type}/{device_id}"

    def announce(self, device_id: str) -> str:
        return f"{self.base}/devices/{device_id}/announce"

    def availability(self, device_id: str) -> str:
        return f"{self.base}/devices/{device_id}/availability"

    def control(self, kind: ActuatorKind) -> str:
        """Where the controller commands an actuator kind: ``alarm`` (siren), ``light``."""
        return f"{self.base}/control/{_CONTROL_LEVEL[kind]}"

    def actuator_state(self, actuator_id: str) -> str:
        return f"{self.base}/control/{actuator_id}/state"


@dataclass(frozen=True, slots=True)
class SensorBinding:
    """Where a configured sensor publishes, and in which family's language."""

    sensor_id: str
    sensor_type: SensorType
    family: str = Family.HOMEGUARD
    # None: the family's default (see the module docstring); several: all feed the sensor
    topic: str | Sequence[str] | None = None
    availability_topic: str | None = None  # None: the family's default, if it has one
    device: str | None = None  # its name in its family's topics; None: the sensor id
    object_id: str | None = None  # ESPHome: the binary_sensor's object id; None: the id
    component: str | None = None  # Shelly Gen2+: "input:0", "bthomesensor:200"
    rf_codes: Mapping[str, RfSignal] = field(default_factory=lambda: MappingProxyType({}))


_NO_HINTS = Hints()


@dataclass(frozen=True, slots=True)
class SensorRoute:
    sensor_id: str
    family: Family
    sensor_type: SensorType
    # The topic and what the config says of the device (not part of which sensor it is).
    hints: Hints = field(default=_NO_HINTS, compare=False)


@dataclass(frozen=True, slots=True)
class CommandRoute:
    """``<base>/alarm/set``."""


@dataclass(frozen=True, slots=True)
class AnnounceRoute:
    device_id: str


@dataclass(frozen=True, slots=True)
class AvailabilityRoute:
    device_id: str  # the sensor id for a foreign family's availability topic


@dataclass(frozen=True, slots=True)
class ActuatorStateRoute:
    actuator_id: str


@dataclass(frozen=True, slots=True)
class IgnoredRoute:
    """A message we receive but need not act on (our own, echoed by a wildcard)."""

    why: str


@dataclass(frozen=True, slots=True)
class SharedRoute:
    """A topic of one device that speaks for several sensors (an RF bridge, a Shelly
    with several inputs): every sensor's route gets the message."""

    routes: tuple[SensorRoute | AvailabilityRoute, ...]


Route = (
    SensorRoute
    | CommandRoute
    | AnnounceRoute
    | AvailabilityRoute
    | ActuatorStateRoute
    | IgnoredRoute
    | SharedRoute
)

_DEFAULT_TOPICS: Mapping[Family, str] = {
    Family.ZIGBEE2MQTT: "zigbee2mqtt/{id}",
    Family.TASMOTA: "stat/{id}/POWER",
    Family.SHELLY: "shellies/{id}/sensor/state",
    Family.ESPHOME: "{id}/binary_sensor/{object_id}/state",
    Family.HOMEASSISTANT: "homeassistant/binary_sensor/{id}/state",
}
_SHELLY_TOPICS: Mapping[SensorType, str] = {
    SensorType.MOTION: "shellies/{id}/status",
    SensorType.WATER: "shellies/{id}/sensor/flood",
    SensorType.SMOKE: "shellies/{id}/sensor/smoke",
}
# Shelly Gen1 battery devices report more on topics of their own (module docstring).
_SHELLY_MORE: Mapping[SensorType, tuple[str, ...]] = {
    SensorType.DOOR: ("battery", "tilt", "vibration"),
    SensorType.WINDOW: ("battery", "tilt", "vibration"),
    SensorType.WATER: ("battery",),
    SensorType.SMOKE: ("battery",),
}
_DEFAULT_AVAILABILITY: Mapping[Family, str] = {
    Family.ZIGBEE2MQTT: "zigbee2mqtt/{id}/availability",
    Family.TASMOTA: "tele/{id}/LWT",
    Family.SHELLY: "shellies/{id}/online",
    Family.ESPHOME: "{id}/status",
}


def default_topic(
    family: Family, sensor_type: SensorType, sensor_id: str, object_id: str | None = None
) -> str | None:
    """The topic a sensor of a foreign family publishes its state on by default; None
    for native."""
    if family is Family.SHELLY and sensor_type in _SHELLY_TOPICS:
        return _SHELLY_TOPICS[sensor_type].format(id=sensor_id)
    template = _DEFAULT_TOPICS.get(family)
    if template is None:
        return None
    return template.format(id=sensor_id, object_id=object_id or sensor_id)


def sensor_topics(binding: SensorBinding) -> tuple[str, ...]:
    """Every topic a foreign-family sensor is heard on (its own or its family's); empty
    for a native sensor without a topic (it uses the contract's)."""
    if isinstance(binding.topic, str):
        return (binding.topic,)
    if binding.topic is not None:
        return tuple(binding.topic)
    family, kind = _family_and_type(binding)
    device = binding.device or binding.sensor_id
    if family is Family.TASMOTA and binding.rf_codes:
        return (f"tele/{device}/RESULT",)
    if family is Family.SHELLY and binding.component is not None:
        status = f"{device}/status/"
        return (f"{device}/events/rpc", status + binding.component, status + "devicepower:0")
    topic = default_topic(family, kind, device, binding.object_id or binding.sensor_id)
    if topic is None:
        return ()
    more = _SHELLY_MORE.get(kind, ()) if family is Family.SHELLY else ()
    return (topic, *(f"shellies/{device}/sensor/{leaf}" for leaf in more))


def availability_topics(binding: SensorBinding) -> tuple[str, ...]:
    """The topic of the sensor's own online/offline messages, if it has one besides
    ``<base>/devices/<id>/availability``."""
    if binding.availability_topic is not None:
        return (binding.availability_topic,)
    family, _kind = _family_and_type(binding)
    device = binding.device or binding.sensor_id
    if family is Family.ZIGBEE2MQTT and binding.topic is not None:
        return (f"{sensor_topics(binding)[0]}/availability",)  # next to its state topic
    if family is Family.SHELLY and binding.component is not None:
        return (f"{device}/online",)
    template = _DEFAULT_AVAILABILITY.get(family)
    return () if template is None else (template.format(id=device),)


class TopicMap:
    """Every topic the controller listens to, and what each one is about."""

    __slots__ = ("_devices", "_filters", "_routes")

    def __init__(
        self, base_topic: str, routes: Mapping[str, Route], filters: Sequence[tuple[str, int]]
    ) -> None:
        self._devices = f"{base_topic}/devices/"
        self._routes = dict(routes)
        self._filters = list(filters)

    @classmethod
    def build(
        cls, base_topic: str, sensors: Sequence[SensorBinding], actuators: Sequence[str]
    ) -> TopicMap:
        """Check the bindings and index them; raises ConfigError naming the culprit."""
        base = base_topic.rstrip("/")
        if not base or _has_wildcard(base) or base.startswith("$"):
            raise ConfigError(f"base_topic {base_topic!r} must be a topic without wildcards")
        site = SiteTopics(base)
        routes: dict[str, Route] = {
            site.status: IgnoredRoute("the controller's own status"),
            site.alarm_set: CommandRoute(),
        }
        for actuator in actuators:
            _check_level(actuator, "actuator")
            _add(routes, site.actuator_state(actuator), ActuatorStateRoute(actuator))
        seen: set[str] = set()
        shared: set[str] = set()  # topics that one device shares among its sensors
        short: dict[SensorType, list[str]] = {}
        for binding in sensors:
            _check_level(binding.sensor_id, "sensor id")
            if binding.sensor_id in seen:
                raise ConfigError(f"sensor {binding.sensor_id!r} is configured twice")
            seen.add(binding.sensor_id)
            family, kind = _family_and_type(binding)
            topics = sensor_topics(binding)
            if not topics:
                topics = (site.sensor(kind.value, binding.sensor_id),)
                short.setdefault(kind, []).append(binding.sensor_id)
            shares = bool(binding.rf_codes) or binding.component is not None
            for topic in dict.fromkeys(topics):
                hints = Hints(topic, binding.component, binding.rf_codes)
                route = SensorRoute(binding.sensor_id, family, kind, hints)
                _add(routes, _checked_topic(topic, binding), route, shared if shares else None)
            for available in availability_topics(binding):
                route_a = AvailabilityRoute(binding.sensor_id)
                _add(routes, _checked_topic(available, binding), route_a, shared)
        for sensor_type, ids in short.items():
            chosen = sensor_type.value if sensor_type.value in ids else ids[0]
            route = SensorRoute(chosen, Family.HOMEGUARD, sensor_type)
            routes.setdefault(f"{base}/security/{sensor_type.value}", route)
        filters = [
            f"{base}/security/#",
            f"{base}/devices/+/announce",
            f"{base}/devices/+/availability",
            site.alarm_set,
            f"{base}/control/+/state",
        ]
        filters += [t for t in routes if not any(_matches(f, t) for f in filters)]
        return cls(base, routes, [(f, QOS) for f in filters])

    def route(self, topic: str) -> Route:
        """What ``topic`` is about; PayloadError("unknown_topic") if nobody configured it."""
        found = self._routes.get(topic)
        if found is not None:
            return found
        if topic.startswith(self._devices):
            device_id, _, leaf = topic[len(self._devices) :].partition("/")
            if device_id and not _has_wildcard(device_id):
                if leaf == "announce":
                    return AnnounceRoute(device_id)
                if leaf == "availability":
                    return AvailabilityRoute(device_id)
        raise PayloadError("unknown_topic", topic[:120])

    def subscriptions(self) -> list[tuple[str, int]]:
        """The (filter, QoS) pairs to subscribe to, base filters first."""
        return list(self._filters)


def _has_wildcard(text: str) -> bool:
    return "+" in text or "#" in text or "\0" in text


def _check_level(name: str, what: str) -> None:
    if not name or "/" in name or _has_wildcard(name):
        raise ConfigError(f"{what} {name!r} must be one topic level (no '/', '+', '#')")


def _checked_topic(topic: str, binding: SensorBinding) -> str:
    if not topic or _has_wildcard(topic) or len(topic.encode("utf-8", "replace")) > 65535:
        raise ConfigError(f"sensor {binding.sensor_id!r}: topic {topic!r} must be exact")
    return topic


def _family_and_type(binding: SensorBinding) -> tuple[Family, SensorType]:
    try:
        family = Family(str(binding.family).lower())
    except ValueError:
        raise ConfigError(
            f"sensor {binding.sensor_id!r}: unknown family {binding.family!r}"
            f" (known: {', '.join(Family)})"
        ) from None
    try:
        return family, SensorType(str(binding.sensor_type).lower())
    except ValueError:
        raise ConfigError(
            f"sensor {binding.sensor_id!r}: unknown type {binding.sensor_type!r}"
        ) from None


def _add(
    routes: dict[str, Route], topic: str, route: Route, shared: set[str] | None = None
) -> None:
    """Bind ``topic``. A second binding is an error unless both may share the topic:
    pass ``shared`` (the topics bound so far that may be shared) for such a route."""
    old = routes.get(topic)
    if old is None:
        routes[topic] = route
        if shared is not None:
            shared.add(topic)
        return
    if (
        shared is not None
        and topic in shared
        and isinstance(route, SensorRoute | AvailabilityRoute)
    ):
        olds = old.routes if isinstance(old, SharedRoute) else (old,)
        if all(type(r) is type(route) for r in olds) and isinstance(
            old, SensorRoute | AvailabilityRoute | SharedRoute
        ):
            routes[topic] = SharedRoute((*olds, route))
            return
    raise ConfigError(f"topic {topic!r} is bound twice: {old} and {route}")


def _matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching for ``+`` and a trailing ``#`` (enough for our own filters)."""
    levels = topic.split("/")
    for i, want in enumerate(topic_filter.split("/")):
        if want == "#":
            return True
        if i >= len(levels) or want not in ("+", levels[i]):
            return False
    return len(levels) == len(topic_filter.split("/"))
