"""What the ``rules`` section names elsewhere in the config, checked at load: the sensors
of its triggers and conditions, the topics it publishes on, the notification routes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from homeguard.adapters.device_topics import availability_topics, sensor_topics
from homeguard.config.base import Misplaced
from homeguard.config.notifications import NotificationsConfig
from homeguard.config.rules import RulesConfig, SensorMatchConfig
from homeguard.config.sensors import ActuatorConfig, SensorConfig
from homeguard.core.model import SensorType
from homeguard.core.rulebook import StateMatch
from homeguard.core.topic import TopicFilter

# The states each type of sensor can be in (besides tamper, which any may report).
_STATES: Mapping[SensorType, frozenset[StateMatch]] = {
    SensorType.DOOR: frozenset({StateMatch.OPEN, StateMatch.CLOSED}),
    SensorType.WINDOW: frozenset({StateMatch.OPEN, StateMatch.CLOSED}),
    SensorType.MOTION: frozenset({StateMatch.MOTION, StateMatch.NO_MOTION}),
}
_GENERAL = frozenset({StateMatch.ACTIVE, StateMatch.INACTIVE, StateMatch.TAMPER})
_OTHERS = frozenset({StateMatch.ON, StateMatch.OFF})
# Levels under the base topic that are the panel's own: its commands (alarm/set), its
# sensors, devices and actuators, and what it says (states, events, status).
_PANEL_LEVELS = ("alarm", "security", "control", "devices")


def check_rules(
    rules: RulesConfig,
    *,
    sensors: Sequence[SensorConfig],
    actuators: Sequence[ActuatorConfig],
    base_topic: str,
    discovery_prefix: str | None,
    notifications: NotificationsConfig,
) -> None:
    """Raise Misplaced (with the path from the root) for the first thing a rule names
    that does not exist or that it may not use."""
    if not rules.list:  # nothing to check: no index of every sensor's topics needed
        return
    by_id = {s.id: s for s in sensors}
    reserved = _panel_topics(sensors, actuators, base_topic, discovery_prefix)
    routes = set(notifications.routes)
    for index, rule in enumerate(rules.list):
        where: tuple[str | int, ...] = ("rules", "list", index)
        for path, match in _matches(rule.trigger, rule.conditions.sensors):
            _check_match(match, by_id, (*where, *path))
        for number, action in enumerate(rule.actions):
            at = (*where, "actions", number)
            if action.publish is not None:
                topic = action.publish.topic
                if any(f.matches(topic) for f in reserved) or topic.startswith("$"):
                    raise Misplaced(
                        f"{topic!r} is a topic the panel takes input from or speaks on: a "
                        "rule may not command the panel or pose as it over MQTT (use a "
                        f"topic of your own, e.g. {base_topic}/rules/{rule.name})",
                        *at,
                        "publish",
                        "topic",
                    )
            notify = action.notify
            if notify is not None and notify.route not in routes:
                known = ", ".join(sorted(routes)) or "none"
                raise Misplaced(
                    f"no notification route {notify.route!r} (known: {known})",
                    *at,
                    "notify",
                    "route",
                )


def _matches(
    trigger: SensorMatchConfig, conditions: Sequence[SensorMatchConfig]
) -> Iterator[tuple[tuple[str | int, ...], SensorMatchConfig]]:
    sequence = getattr(trigger, "sequence", None)
    if sequence is not None:
        for index, step in enumerate(sequence):
            yield ("trigger", "sequence", index), step
    elif any(v is not None for v in (trigger.sensor, trigger.zone, trigger.type)):
        yield ("trigger",), trigger
    for index, condition in enumerate(conditions):
        yield ("conditions", "sensors", index), condition


def _check_match(
    match: SensorMatchConfig, by_id: Mapping[str, SensorConfig], where: tuple[str | int, ...]
) -> None:
    for sensor_id in match.ids():
        if sensor_id not in by_id:
            known = ", ".join(sorted(by_id)) or "none"
            raise Misplaced(f"no sensor {sensor_id!r} is configured (known: {known})", *where,
                            "sensor")  # fmt: skip
    selected = [
        s
        for s in by_id.values()
        if (not match.ids() or s.id in match.ids())
        and (match.zone is None or s.zone_kind is match.zone)
        and (match.type is None or s.type is match.type)
    ]
    if not selected:
        raise Misplaced("selects no configured sensor", *where)
    if match.state in _GENERAL:
        return
    able = [s.id for s in selected if match.state in _STATES.get(s.type, _OTHERS)]
    if not able:
        raise Misplaced(
            f"none of the sensors it selects ({', '.join(s.id for s in selected)}) is ever "
            f"{match.state.value}",
            *where,
            "state",
        )


def _panel_topics(
    sensors: Sequence[SensorConfig],
    actuators: Sequence[ActuatorConfig],
    base_topic: str,
    discovery_prefix: str | None,
) -> list[TopicFilter]:
    base = base_topic.rstrip("/")
    filters = [f"{base}/{level}/#" for level in _PANEL_LEVELS]
    if discovery_prefix is not None:
        filters.append(f"{discovery_prefix}/#")
    for sensor in sensors:
        binding = sensor.binding()
        filters += [*sensor_topics(binding), *availability_topics(binding)]
    filters += [a.topic for a in actuators if a.topic is not None]
    return [TopicFilter(f) for f in filters]
