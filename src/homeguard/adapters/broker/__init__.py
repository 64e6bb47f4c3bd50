"""The MQTT broker: Mosquitto's config and process, or an embedded amqtt broker.

One module per job: :mod:`.mosquitto` (the generated config, the binary, a reload),
:mod:`.probe` (is a broker there?), :mod:`.local` (`LocalBroker`), :mod:`.embedded`
(the amqtt broker and its limits; the only module that imports amqtt).

* `mosquitto_config` writes a Mosquitto 2.x configuration that loses nothing a house
  sends, with limits no login can exhaust; `reload_local_broker` makes the Mosquitto
  that `LocalBroker` started reread its password file, ACL and CRL;
* `broker_answers` probes an address with a real MQTT CONNECT/CONNACK exchange;
* `LocalBroker` runs a broker on loopback: Mosquitto when its binary is installed,
  otherwise an embedded amqtt broker in its own thread and asyncio loop.
"""

from .local import LocalBroker
from .mosquitto import (
    MAX_PACKET_BYTES,
    MAX_QUEUED_BYTES,
    MAX_QUEUED_MESSAGES,
    find_mosquitto,
    mosquitto_config,
    reload_local_broker,
)
from .probe import broker_answers

__all__ = [
    "MAX_PACKET_BYTES",
    "MAX_QUEUED_BYTES",
    "MAX_QUEUED_MESSAGES",
    "LocalBroker",
    "broker_answers",
    "find_mosquitto",
    "mosquitto_config",
    "reload_local_broker",
]
