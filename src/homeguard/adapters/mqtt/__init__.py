"""The MQTT client: the only package that imports paho-mqtt.

One module per job, following a message from the caller to the socket and back:
:mod:`.message` (the values the client takes and gives), :mod:`.client` (`MqttClient`:
publishing, receiving, acknowledging), :mod:`.outbox` (the outgoing queue and its
in-flight window, no paho), :mod:`.connection` (staying connected: login, TLS, session,
subscriptions, reconnects), :mod:`.backoff` (reconnect delays), :mod:`.session` (a
refused login, a session taken over), :mod:`.sockets` (TCP_NODELAY and quick ACKs).
"""

from .client import MessageSink, MqttClient
from .message import MAX_PAYLOAD, BrokerAddress, Message, TlsFiles, Will

__all__ = [
    "MAX_PAYLOAD",
    "BrokerAddress",
    "Message",
    "MessageSink",
    "MqttClient",
    "TlsFiles",
    "Will",
]
