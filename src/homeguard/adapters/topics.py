"""Topic names for a site (:class:`SiteTopics`) and routing: which configured thing an
incoming MQTT topic is about (:class:`TopicMap`).

:meth:`TopicMap.build` turns the site's base topic, sensors and actuators into one dict
from exact topic to :data:`Route`, so that :meth:`TopicMap.route` (the controller's
per-message path) costs a dict lookup; only ``<base>/devices/<id>/announce`` and
``.../availability``, open to any device id, are parsed from the topic instead.

Where a sensor is heard (``<base>`` is the base topic, ``home`` by default), and its
availability: ``<base>/devices/<id>/availability`` for any id, besides what
:mod:`homeguard.adapters.device_topics` says of the other families:

* family ``homeguard`` without a topic: ``<base>/security/<type>/<id>``, and the
  contract's short form ``<base>/security/<type>``, which reaches the sensor of that
  type whose id is the type (``door``) or, when no id matches, the first native sensor
  of that type in the config (so the tutorial's ``home/security/door`` always reaches
  a door).
  An explicit topic on any sensor takes precedence over a short form.

``<base>/security/status`` is the controller's own message: :class:`IgnoredRoute`.
Two bindings on one topic are a :class:`~homeguard.errors.ConfigError`, except where one
device speaks for several sensors: sensors of one RF bridge or of one Shelly Gen2+ device
share its topics, and sensors of one device share its availability topic
(:class:`SharedRoute`: each sensor's codec reads the message).
With Home Assistant discovery (:class:`HomeAssistantTopics`), also ``<prefix>/status``
(:class:`HomeAssistantStatusRoute`) and the retained configs under the site's node id
(:class:`DiscoveryConfigRoute`), which the controller reads back to clear stale ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from homeguard.adapters.codecs import Family, Hints
from homeguard.adapters.device_topics import (
    SensorBinding,
    availability_topics,
    default_topic,
    family_and_type,
    sensor_topics,
)
from homeguard.core.model import SensorType
from homeguard.core.signals import ActuatorKind
from homeguard.core.topic import TopicFilter, name_problem, prefix_problem
from homeguard.errors import ConfigError, PayloadError

__all__ = [
    "QOS",
    "ActuatorStateRoute",
    "AnnounceRoute",
    "AvailabilityRoute",
    "CommandRoute",
    "DiscoveryConfigRoute",
    "HomeAssistantStatusRoute",
    "HomeAssistantTopics",
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
    def controller_heartbeat(self) -> str:
        """Who runs the site's controller, said live (QoS 0, not retained) by it."""
        return f"{self.base}/alarm/controller"

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

    def sensor_state(self, sensor_id: str) -> str:
        """What the panel knows of a sensor (retained JSON, for Home Assistant and
        dashboards): ``<base>/alarm/sensors/<id>``."""
        return f"{self.base}/alarm/sensors/{sensor_id}"

    def client(self, account: str) -> str:
        """A user's client's own topics, under ``<base>/clients/<account>/``: it alone
        may publish and read there (``homeguard status`` marks the end of the retained
        messages with a message to itself there)."""
        return f"{self.base}/clients/{account}"


@dataclass(frozen=True, slots=True)
class HomeAssistantTopics:
    """Where discovery lives for one site: Home Assistant's prefix and our node id."""

    prefix: str
    node: str

    @property
    def birth(self) -> str:
        """Home Assistant's status topic: ``online`` when it (re)starts."""
        return f"{self.prefix}/status"

    @property
    def ours(self) -> str:
        """The filter that matches every config this site may have published."""
        return f"{self.prefix}/+/{self.node}/+/config"

    def config(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{self.node}/{object_id}/config"

    def is_ours(self, topic: str) -> bool:
        levels = topic.split("/")
        head = self.prefix.split("/")
        return (
            len(levels) == len(head) + 4
            and levels[: len(head)] == head
            and levels[len(head) + 1] == self.node
            and levels[-1] == "config"
        )


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
class HomeAssistantStatusRoute:
    """Home Assistant's birth and last will (``<prefix>/status``)."""


@dataclass(frozen=True, slots=True)
class DiscoveryConfigRoute:
    """A retained discovery config under this site's node id (ours, maybe stale)."""

    topic: str


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
    | HomeAssistantStatusRoute
    | DiscoveryConfigRoute
    | IgnoredRoute
    | SharedRoute
)


class TopicMap:
    """Every topic the controller listens to, and what each one is about."""

    __slots__ = ("_devices", "_discovery", "_filters", "_routes")

    def __init__(
        self,
        base_topic: str,
        routes: Mapping[str, Route],
        filters: Sequence[tuple[str, int]],
        discovery: HomeAssistantTopics | None = None,
    ) -> None:
        self._devices = f"{base_topic}/devices/"
        self._routes = dict(routes)
        self._filters = list(filters)
        self._discovery = discovery

    @classmethod
    def build(
        cls,
        base_topic: str,
        sensors: Sequence[SensorBinding],
        actuators: Sequence[str],
        *,
        discovery: HomeAssistantTopics | None = None,
    ) -> TopicMap:
        """Check the bindings and index them; raises ConfigError naming the culprit.

        With ``discovery``, also Home Assistant's birth message and the site's own
        retained discovery configs (to clear those no longer configured)."""
        base = base_topic.rstrip("/")
        problem = prefix_problem(base)
        if problem is not None:
            raise ConfigError(f"base_topic {base_topic!r} {problem}")
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
            family, kind = family_and_type(binding)
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
        if discovery is not None:
            _add(routes, discovery.birth, HomeAssistantStatusRoute())
            filters.append(discovery.ours)
        wildcards = [TopicFilter(f) for f in filters]
        contract = f"{base}/security/"  # the first wildcard's: a quicker test for most
        filters += [
            t
            for t in routes
            if not t.startswith(contract) and not any(w.matches(t) for w in wildcards)
        ]
        return cls(base, routes, [(f, QOS) for f in filters], discovery)

    def route(self, topic: str) -> Route:
        """What ``topic`` is about; PayloadError("unknown_topic") if nobody configured it."""
        found = self._routes.get(topic)
        if found is not None:
            return found
        if topic.startswith(self._devices):
            device_id, _, leaf = topic[len(self._devices) :].partition("/")
            if name_problem(device_id) is None:
                if leaf == "announce":
                    return AnnounceRoute(device_id)
                if leaf == "availability":
                    return AvailabilityRoute(device_id)
        if self._discovery is not None and self._discovery.is_ours(topic):
            return DiscoveryConfigRoute(topic)
        raise PayloadError("unknown_topic", topic[:120])

    def subscriptions(self) -> list[tuple[str, int]]:
        """The (filter, QoS) pairs to subscribe to, base filters first."""
        return list(self._filters)


def _check_level(name: str, what: str) -> None:
    problem = "must not contain '/'" if "/" in name else name_problem(name)
    if problem is not None:
        raise ConfigError(f"{what} {name!r} must be one topic level: it {problem}")


def _checked_topic(topic: str, binding: SensorBinding) -> str:
    problem = name_problem(topic)
    if problem is not None:
        raise ConfigError(f"sensor {binding.sensor_id!r}: topic {topic!r} {problem}")
    return topic


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
