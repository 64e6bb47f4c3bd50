"""Who may connect to the broker for a site, and what each one may publish and read.

One `Account` per thing that connects: the controller, every sensor and actuator of the
config (named by its id), and the panel's users' clients (``security.clients``: the
CLI, the dashboard, Home Assistant...). `site_accounts` derives them from the config
and the topic contract; the broker's ACL file is written from them, so an account can
do exactly this and nothing else:

============  ==========================================  ==========================
role          publishes                                   reads
============  ==========================================  ==========================
sensor        ``<base>/security/<type>/<id>`` (or its     ``<base>/devices/<id>/#``
              family's topic), ``<base>/devices/<id>/``   (its own commands)
              ``announce`` and ``availability``
actuator      ``<base>/control/<id>/state``, its          ``<base>/control/alarm``
              ``announce`` and ``availability``           or ``.../light`` (or its
                                                          topic), its own subtree
controller    ``<base>/alarm/state|event|availability``,  everything it subscribes
              ``<base>/alarm/controller`` (heartbeat),    to (sensors, devices,
              ``<base>/alarm/sensors/+``, ``<base>/``     ``alarm/set``, states, HA's
              ``security/status``, the actuators'         birth and its configs)
              command topics, its HA discovery configs,
              ``<base>/alarm/set`` (only to clear a
              retained command), the rules' topics
user          ``<base>/alarm/set``; HA's birth message    the panel's state, events,
              (and the actuators' command topics with     status, availability,
              ``home_assistant.control_actuators``);      sensors and the controller's
              its own ``<base>/clients/<name>/#``         heartbeat; the HA prefix;
                                                          its own ``clients/<name>/#``
============  ==========================================  ==========================

Pure: no files, no sockets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from homeguard.adapters.codecs import Family
from homeguard.adapters.topics import (
    HomeAssistantTopics,
    SiteTopics,
    TopicMap,
    availability_topics,
    sensor_topics,
)
from homeguard.config import Config
from homeguard.errors import ConfigError
from homeguard.services.home_assistant import home_assistant_topics

__all__ = ["CONTROLLER", "Account", "Role", "site_accounts"]

CONTROLLER = "controller"


class Role(StrEnum):
    CONTROLLER = "controller"
    SENSOR = "sensor"
    ACTUATOR = "actuator"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Account:
    """One broker login: its name (also its MQTT user name), role and topic rights."""

    name: str
    role: Role
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def _unique(topics: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(topics))


def site_accounts(config: Config) -> list[Account]:
    """Every account of a site, controller first; ConfigError on a name used twice."""
    base = config.mqtt.base_topic
    site = SiteTopics(base)
    ha = home_assistant_topics(config)
    topic_map = TopicMap.build(
        base,
        [s.binding() for s in config.sensors],
        [a.id for a in config.actuators],
        discovery=ha,
    )
    accounts = [_controller(config, site, topic_map, ha)]
    accounts += _sensors(config, site)
    for actuator in config.actuators:
        command = actuator.topic or site.control(actuator.type)
        accounts.append(
            Account(
                actuator.id,
                Role.ACTUATOR,
                publish=(
                    site.actuator_state(actuator.id),
                    site.announce(actuator.id),
                    site.availability(actuator.id),
                ),
                subscribe=(command, f"{base}/devices/{actuator.id}/#"),
            )
        )
    user_reads = [
        site.alarm_state,
        site.alarm_event,
        site.status,
        site.controller_availability,
        site.controller_heartbeat,
        site.availability("+"),
        site.actuator_state("+"),
        site.sensor_state("+"),
    ]
    # Home Assistant reads its discovery prefix and says "online" there when it starts;
    # its siren and light entities switch the actuators only when so configured.
    user_writes = [site.alarm_set]
    if ha is not None:
        user_reads.append(f"{ha.prefix}/#")
        user_writes.append(ha.birth)
        if config.home_assistant.control_actuators:
            user_writes += _actuator_commands(config, site)
    accounts += [
        Account(
            name,
            Role.USER,
            publish=_unique([*user_writes, f"{site.client(name)}/#"]),
            subscribe=_unique([*user_reads, f"{site.client(name)}/#"]),
        )
        for name in config.security.clients
    ]
    seen: dict[str, Role] = {}
    for account in accounts:
        if account.name in seen:
            raise ConfigError(
                f"{account.name!r} names both a {seen[account.name]} and a {account.role}: "
                "every device, client and the controller need a name of their own"
            )
        seen[account.name] = account.role
    return accounts


def _actuator_commands(config: Config, site: SiteTopics) -> list[str]:
    return [a.topic or site.control(a.type) for a in config.actuators]


def _controller(
    config: Config, site: SiteTopics, topic_map: TopicMap, ha: HomeAssistantTopics | None
) -> Account:
    commands = _actuator_commands(config, site)
    discovery = [] if ha is None else [ha.ours]
    return Account(
        CONTROLLER,
        Role.CONTROLLER,
        publish=_unique(
            [
                site.alarm_state,
                site.alarm_event,
                site.controller_availability,
                site.controller_heartbeat,
                site.status,
                site.alarm_set,  # to clear a retained command (never to send one)
                site.sensor_state("+"),
                *commands,
                *discovery,
                *_rule_topics(config),
            ]
        ),
        subscribe=_unique(
            [topic for topic, _qos in topic_map.subscriptions()] + _snapshot_topics(config)
        ),
    )


def _snapshot_topics(config: Config) -> list[str]:
    """A camera's snapshot topic, read for the notifications (docs/notifications.md)."""
    snapshot = config.notifications.snapshot
    return [snapshot.topic] if snapshot is not None and snapshot.topic else []


def _rule_topics(config: Config) -> list[str]:
    """Where the rules publish (docs/rules.md)."""
    return [a.publish.topic for r in config.rules.list for a in r.actions if a.publish]


def _sensors(config: Config, site: SiteTopics) -> list[Account]:
    base = site.base
    # The contract's short form <base>/security/<type> reaches one sensor of that type
    # (see adapters.topics): only that sensor may use it.
    short: dict[str, str] = {}
    for sensor in config.sensors:
        native = Family(sensor.family) is Family.HOMEGUARD and sensor.topic is None
        if native and (sensor.id == sensor.type.value or sensor.type.value not in short):
            short[sensor.type.value] = sensor.id
    accounts = []
    for sensor in config.sensors:
        binding = sensor.binding()
        topics = sensor_topics(binding) or (site.sensor(sensor.type.value, sensor.id),)
        publish = [*topics, site.announce(sensor.id), site.availability(sensor.id)]
        if short.get(sensor.type.value) == sensor.id:
            publish.append(f"{base}/security/{sensor.type.value}")
        publish += availability_topics(binding)
        accounts.append(
            Account(
                sensor.id,
                Role.SENSOR,
                publish=_unique(publish),
                subscribe=(f"{base}/devices/{sensor.id}/#",),
            )
        )
    return accounts
