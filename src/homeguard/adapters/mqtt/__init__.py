"""The MQTT client: the only package that imports paho-mqtt.

:mod:`.client` (`MqttClient`, the paho adapter), :mod:`.message` (the values it takes
and gives), :mod:`.backoff` (reconnect delays).
"""

from .client import MqttClient
from .message import MAX_PAYLOAD, BrokerAddress, Message, TlsFiles, Will

__all__ = ["MAX_PAYLOAD", "BrokerAddress", "Message", "MqttClient", "TlsFiles", "Will"]
